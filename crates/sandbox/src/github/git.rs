//! A git repository in memory: real git objects (blobs, trees, commits) in libgit2's object
//! database with an in-memory pack backend, and the refs beside it. Commits, trees, diffs and
//! patches the stand-in serves are computed by libgit2 from these objects, so they are what git
//! itself would say; [`Repo::pack`] writes them out as a pack file git can index.

use std::collections::BTreeMap;

use git2::{Diff, DiffFormat, DiffOptions, Odb, Oid, Repository, Signature, Sort, Time};

/// A person and a time, as a commit records them.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    pub name: String,
    pub email: String,
    /// Unix seconds.
    pub time: i64,
}

/// One file of a commit's diff against its first parent.
#[derive(Debug, Clone, PartialEq)]
pub struct FileChange {
    pub path: String,
    /// added, removed, modified, renamed
    pub status: &'static str,
    pub additions: usize,
    pub deletions: usize,
    /// The blob after the change (before it, for a removal).
    pub blob: String,
    /// The unified diff of this file, without the `diff --git` header (GitHub's `patch`).
    pub patch: String,
}

/// A commit as the stand-in reads it.
#[derive(Debug, Clone)]
pub struct CommitInfo {
    pub sha: String,
    pub tree: String,
    pub parents: Vec<String>,
    pub author: Person,
    pub committer: Person,
    pub message: String,
}

/// A change to a tree: a path's new contents, an existing blob at a path, or its removal.
#[derive(Debug, Clone)]
pub enum Edit {
    Write(String, Vec<u8>),
    Blob(String, Oid),
    Remove(String),
}

/// Objects in memory, refs beside them.
pub struct Repo {
    repo: Repository,
    /// `refs/heads/main` → commit, `refs/tags/v1.4.2` → commit.
    pub refs: BTreeMap<String, Oid>,
}

impl std::fmt::Debug for Repo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repo").field("refs", &self.refs).finish()
    }
}

fn signature(p: &Person) -> Result<Signature<'static>, git2::Error> {
    Signature::new(&p.name, &p.email, &Time::new(p.time, 0))
}

fn person(s: &Signature<'_>) -> Person {
    Person {
        name: s.name().unwrap_or_default().to_owned(),
        email: s.email().unwrap_or_default().to_owned(),
        time: s.when().seconds(),
    }
}

impl Repo {
    /// An empty repository.
    pub fn new() -> Result<Self, git2::Error> {
        let odb = Odb::new()?;
        odb.add_new_mempack_backend(1000)?;
        Ok(Self {
            repo: Repository::from_odb(odb)?,
            refs: BTreeMap::new(),
        })
    }

    /// What `name` (a branch, a tag, `refs/…`, or a full or abbreviated sha) points at.
    pub fn resolve(&self, name: &str) -> Option<Oid> {
        for full in [
            name.to_owned(),
            format!("refs/heads/{name}"),
            format!("refs/tags/{name}"),
        ] {
            if let Some(oid) = self.refs.get(&full) {
                return Some(*oid);
            }
        }
        if name.len() >= 4 && name.len() <= 40 && name.chars().all(|c| c.is_ascii_hexdigit()) {
            if let Ok(oid) = Oid::from_str(name)
                && name.len() == 40
            {
                return self.is_commit(oid).then_some(oid);
            }
            // The in-memory object database has no prefix lookup: walk what the refs reach.
            return self.by_prefix(&name.to_ascii_lowercase());
        }
        None
    }

    /// The one commit reachable from a ref whose sha starts with `prefix` (none if ambiguous).
    fn by_prefix(&self, prefix: &str) -> Option<Oid> {
        let mut walk = self.repo.revwalk().ok()?;
        for oid in self.refs.values() {
            walk.push(*oid).ok()?;
        }
        let mut found = walk
            .filter_map(Result::ok)
            .filter(|oid| oid.to_string().starts_with(prefix));
        let first = found.next()?;
        found.next().is_none().then_some(first)
    }

    /// Write `edits` on top of `base` (a tree, or none) and return the new tree.
    pub fn tree(&self, base: Option<Oid>, edits: &[Edit]) -> Result<Oid, git2::Error> {
        // Files by path, from the base tree, then edited.
        let mut files: BTreeMap<String, (Oid, i32)> = BTreeMap::new();
        if let Some(base) = base {
            let tree = self.repo.find_tree(base)?;
            tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
                if entry.kind() == Some(git2::ObjectType::Blob) {
                    files.insert(
                        format!("{dir}{}", entry.name().unwrap_or_default()),
                        (entry.id(), entry.filemode()),
                    );
                }
                git2::TreeWalkResult::Ok
            })?;
        }
        for edit in edits {
            match edit {
                Edit::Write(path, content) => {
                    let blob = self.repo.blob(content)?;
                    let mode = files.get(path).map_or(0o100644, |f| f.1);
                    files.insert(path.clone(), (blob, mode));
                }
                Edit::Blob(path, blob) => {
                    self.repo.find_blob(*blob)?;
                    let mode = files.get(path).map_or(0o100644, |f| f.1);
                    files.insert(path.clone(), (*blob, mode));
                }
                Edit::Remove(path) => {
                    files.remove(path);
                }
            }
        }
        self.build(&files, "")
    }

    /// The tree of the files under `prefix` (recursively building subtrees).
    fn build(
        &self,
        files: &BTreeMap<String, (Oid, i32)>,
        prefix: &str,
    ) -> Result<Oid, git2::Error> {
        let mut builder = self.repo.treebuilder(None)?;
        let mut dirs: Vec<&str> = Vec::new();
        for (path, (oid, mode)) in files.range(prefix.to_owned()..) {
            let Some(rest) = path.strip_prefix(prefix) else {
                break;
            };
            match rest.split_once('/') {
                None => {
                    builder.insert(rest, *oid, *mode)?;
                }
                Some((dir, _)) if !dirs.contains(&dir) => dirs.push(dir),
                Some(_) => {}
            }
        }
        for dir in dirs {
            let sub = self.build(files, &format!("{prefix}{dir}/"))?;
            builder.insert(dir, sub, 0o040000)?;
        }
        builder.write()
    }

    /// A commit of `tree` with `parents`; refs are not moved.
    pub fn commit(
        &self,
        tree: Oid,
        parents: &[Oid],
        author: &Person,
        committer: &Person,
        message: &str,
    ) -> Result<Oid, git2::Error> {
        let tree = self.repo.find_tree(tree)?;
        let parents: Vec<git2::Commit<'_>> = parents
            .iter()
            .map(|p| self.repo.find_commit(*p))
            .collect::<Result<_, _>>()?;
        let parents: Vec<&git2::Commit<'_>> = parents.iter().collect();
        self.repo.commit(
            None,
            &signature(author)?,
            &signature(committer)?,
            message,
            &tree,
            &parents,
        )
    }

    /// Commit `edits` on top of branch `branch` (created if missing) and move it.
    pub fn commit_on(
        &mut self,
        branch: &str,
        edits: &[Edit],
        author: &Person,
        message: &str,
    ) -> Result<Oid, git2::Error> {
        let name = format!("refs/heads/{branch}");
        let parent = self.refs.get(&name).copied();
        let base = parent
            .map(|p| self.repo.find_commit(p).map(|c| c.tree_id()))
            .transpose()?;
        let tree = self.tree(base, edits)?;
        let parents: Vec<Oid> = parent.into_iter().collect();
        let oid = self.commit(tree, &parents, author, author, message)?;
        self.refs.insert(name, oid);
        Ok(oid)
    }

    pub fn info(&self, oid: Oid) -> Result<CommitInfo, git2::Error> {
        let c = self.repo.find_commit(oid)?;
        Ok(CommitInfo {
            sha: c.id().to_string(),
            tree: c.tree_id().to_string(),
            parents: c.parent_ids().map(|p| p.to_string()).collect(),
            author: person(&c.author()),
            committer: person(&c.committer()),
            message: c.message().unwrap_or_default().to_owned(),
        })
    }

    /// Commits reachable from `from`, newest first (by commit time), keeping those for which
    /// `keep` holds, after skipping `skip`, at most `limit`.
    pub fn log(
        &self,
        from: Oid,
        mut keep: impl FnMut(&CommitInfo, &Self) -> bool,
        skip: usize,
        limit: usize,
    ) -> Result<(Vec<CommitInfo>, bool), git2::Error> {
        let mut walk = self.repo.revwalk()?;
        walk.set_sorting(Sort::TIME)?;
        walk.push(from)?;
        let mut out = Vec::new();
        let mut seen = 0;
        for oid in walk {
            let info = self.info(oid?)?;
            if !keep(&info, self) {
                continue;
            }
            seen += 1;
            if seen <= skip {
                continue;
            }
            if out.len() == limit {
                return Ok((out, true));
            }
            out.push(info);
        }
        Ok((out, false))
    }

    fn diff(&self, from: Option<Oid>, to: Oid) -> Result<Diff<'_>, git2::Error> {
        let old = from.map(|t| self.repo.find_tree(t)).transpose()?;
        let new = self.repo.find_tree(to)?;
        let mut options = DiffOptions::new();
        options.context_lines(3);
        let mut diff = self
            .repo
            .diff_tree_to_tree(old.as_ref(), Some(&new), Some(&mut options))?;
        diff.find_similar(None)?;
        Ok(diff)
    }

    /// The files a commit changed against its first parent (all of them for a root commit).
    pub fn changes(&self, oid: Oid) -> Result<Vec<FileChange>, git2::Error> {
        let c = self.repo.find_commit(oid)?;
        let parent = c.parent(0).ok().map(|p| p.tree_id());
        self.tree_changes(parent, c.tree_id())
    }

    /// The files that differ between two trees.
    pub fn tree_changes(&self, from: Option<Oid>, to: Oid) -> Result<Vec<FileChange>, git2::Error> {
        let diff = self.diff(from, to)?;
        let mut files = Vec::new();
        for (i, delta) in diff.deltas().enumerate() {
            let (status, file) = match delta.status() {
                git2::Delta::Added => ("added", delta.new_file()),
                git2::Delta::Deleted => ("removed", delta.old_file()),
                git2::Delta::Renamed => ("renamed", delta.new_file()),
                _ => ("modified", delta.new_file()),
            };
            let path = file
                .path()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut patch = String::new();
            let (mut additions, mut deletions) = (0, 0);
            if let Some(mut p) = git2::Patch::from_diff(&diff, i)? {
                let (_, adds, dels) = p.line_stats()?;
                additions = adds;
                deletions = dels;
                let mut text = String::new();
                p.print(&mut |_, _, line| {
                    let origin = line.origin();
                    let content = String::from_utf8_lossy(line.content());
                    match origin {
                        '+' | '-' | ' ' => {
                            text.push(origin);
                            text.push_str(&content);
                        }
                        'H' => text.push_str(&content),
                        _ => {}
                    }
                    true
                })?;
                patch = text.trim_end_matches('\n').to_owned();
            }
            files.push(FileChange {
                path,
                status,
                additions,
                deletions,
                blob: file.id().to_string(),
                patch,
            });
        }
        Ok(files)
    }

    /// The whole diff of a commit (`application/vnd.github.diff`) or between two trees.
    pub fn diff_text(&self, from: Option<Oid>, to: Oid) -> Result<String, git2::Error> {
        let diff = self.diff(from, to)?;
        let mut text = String::new();
        diff.print(DiffFormat::Patch, |_, _, line| {
            let origin = line.origin();
            if matches!(origin, '+' | '-' | ' ') {
                text.push(origin);
            }
            text.push_str(&String::from_utf8_lossy(line.content()));
            true
        })?;
        Ok(text)
    }

    /// The tree of a commit.
    pub fn tree_of(&self, commit: Oid) -> Result<Oid, git2::Error> {
        Ok(self.repo.find_commit(commit)?.tree_id())
    }

    /// What is at `path` in `tree`: a file's blob (id, bytes) or a directory's entries
    /// (name, kind, id, size).
    pub fn at_path(&self, tree: Oid, path: &str) -> Result<Option<Entry>, git2::Error> {
        let tree = self.repo.find_tree(tree)?;
        let path = path.trim_matches('/');
        if path.is_empty() {
            return Ok(Some(self.listing(&tree)?));
        }
        let Ok(entry) = tree.get_path(std::path::Path::new(path)) else {
            return Ok(None);
        };
        Ok(Some(match entry.kind() {
            Some(git2::ObjectType::Tree) => self.listing(&self.repo.find_tree(entry.id())?)?,
            _ => {
                let blob = self.repo.find_blob(entry.id())?;
                Entry::File {
                    sha: entry.id().to_string(),
                    content: blob.content().to_vec(),
                }
            }
        }))
    }

    fn listing(&self, tree: &git2::Tree<'_>) -> Result<Entry, git2::Error> {
        let mut items = Vec::new();
        for e in tree.iter() {
            let dir = e.kind() == Some(git2::ObjectType::Tree);
            let size = if dir {
                0
            } else {
                self.repo.find_blob(e.id())?.size()
            };
            items.push((
                e.name().unwrap_or_default().to_owned(),
                dir,
                e.id().to_string(),
                size,
            ));
        }
        Ok(Entry::Dir(items))
    }

    /// Store `content` as a blob.
    pub fn write_blob(&self, content: &[u8]) -> Result<Oid, git2::Error> {
        self.repo.blob(content)
    }

    /// A blob's bytes.
    pub fn blob(&self, oid: Oid) -> Result<Vec<u8>, git2::Error> {
        Ok(self.repo.find_blob(oid)?.content().to_vec())
    }

    /// Whether `oid` names a tree, and a commit.
    pub fn is_tree(&self, oid: Oid) -> bool {
        self.repo.find_tree(oid).is_ok()
    }

    pub fn is_commit(&self, oid: Oid) -> bool {
        self.repo.find_commit(oid).is_ok()
    }

    /// The best common ancestor of two commits.
    pub fn merge_base(&self, a: Oid, b: Oid) -> Option<Oid> {
        self.repo.merge_base(a, b).ok()
    }

    /// Whether `new` has `old` in its history (a fast-forward from `old`).
    pub fn fast_forward(&self, old: Oid, new: Oid) -> bool {
        old == new || self.repo.graph_descendant_of(new, old).unwrap_or(false)
    }

    /// The tree merging `head` into `base` (three-way, from their merge base), or `None` when
    /// they conflict.
    pub fn merge_tree(&self, base: Oid, head: Oid) -> Result<Option<Oid>, git2::Error> {
        let ours = self.repo.find_commit(base)?;
        let theirs = self.repo.find_commit(head)?;
        let mut index = self.repo.merge_commits(&ours, &theirs, None)?;
        if index.has_conflicts() {
            return Ok(None);
        }
        index.write_tree_to(&self.repo).map(Some)
    }

    /// The tree of `commit`'s change replayed onto `onto` (a cherry-pick), or `None` when it
    /// conflicts.
    pub fn replay(&self, commit: Oid, onto: Oid) -> Result<Option<Oid>, git2::Error> {
        let picked = self.repo.find_commit(commit)?;
        let onto = self.repo.find_commit(onto)?;
        let mut index = self.repo.cherrypick_commit(&picked, &onto, 0, None)?;
        if index.has_conflicts() {
            return Ok(None);
        }
        index.write_tree_to(&self.repo).map(Some)
    }

    /// Files of `tree` whose path or contents contain `needle` (ASCII case-insensitive), with
    /// their blobs, in path order.
    pub fn grep(&self, tree: Oid, needle: &str) -> Result<Vec<(String, Oid)>, git2::Error> {
        let needle = needle.to_ascii_lowercase();
        let mut found = Vec::new();
        let tree = self.repo.find_tree(tree)?;
        tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
            if entry.kind() == Some(git2::ObjectType::Blob) {
                let path = format!("{dir}{}", entry.name().unwrap_or_default());
                let hit = path.to_ascii_lowercase().contains(&needle)
                    || self.repo.find_blob(entry.id()).is_ok_and(|b| {
                        String::from_utf8_lossy(b.content())
                            .to_ascii_lowercase()
                            .contains(&needle)
                    });
                if hit {
                    found.push((path, entry.id()));
                }
            }
            git2::TreeWalkResult::Ok
        })?;
        Ok(found)
    }

    /// Commits reachable from `head` but not from `base`, oldest first.
    pub fn between(&self, base: Oid, head: Oid) -> Result<Vec<CommitInfo>, git2::Error> {
        let mut walk = self.repo.revwalk()?;
        walk.set_sorting(Sort::TOPOLOGICAL | Sort::REVERSE)?;
        walk.push(head)?;
        walk.hide(base)?;
        walk.map(|oid| self.info(oid?)).collect()
    }

    /// Every object as one pack file (what `git index-pack` reads).
    pub fn pack(&self) -> Result<Vec<u8>, git2::Error> {
        let mut builder = self.repo.packbuilder()?;
        for oid in self.refs.values() {
            builder.insert_commit(*oid)?;
        }
        let mut buf = git2::Buf::new();
        builder.write_buf(&mut buf)?;
        Ok(buf.to_vec())
    }
}

/// What a path holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    File {
        sha: String,
        content: Vec<u8>,
    },
    /// (name, is a directory, sha, size)
    Dir(Vec<(String, bool, String, usize)>),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(time: i64) -> Person {
        Person {
            name: "Jonas Weber".into(),
            email: "jonas.weber@shop.example".into(),
            time,
        }
    }

    #[test]
    fn commits_diffs_and_patches_are_git_data() {
        let mut repo = Repo::new().unwrap();
        let first = repo
            .commit_on(
                "main",
                &[
                    Edit::Write(
                        "worker.c".into(),
                        b"int main(void) {\n  return 0;\n}\n".to_vec(),
                    ),
                    Edit::Write("deploy/worker.yaml".into(), b"memory: 64Mi\n".to_vec()),
                ],
                &dev(1_700_000_000),
                "initial worker",
            )
            .unwrap();
        let second = repo
            .commit_on(
                "main",
                &[Edit::Write(
                    "worker.c".into(),
                    b"int main(void) {\n  leak();\n  return 0;\n}\n".to_vec(),
                )],
                &dev(1_700_000_600),
                "cache the working set",
            )
            .unwrap();
        assert_eq!(repo.resolve("main"), Some(second));
        let info = repo.info(second).unwrap();
        assert_eq!(info.parents, [first.to_string()]);
        let changes = repo.changes(second).unwrap();
        assert_eq!(changes.len(), 1);
        assert_eq!(
            (
                changes[0].status,
                changes[0].additions,
                changes[0].deletions
            ),
            ("modified", 1, 0)
        );
        assert_eq!(
            changes[0].patch,
            "@@ -1,3 +1,4 @@\n int main(void) {\n+  leak();\n   return 0;\n }"
        );
        let root = repo.changes(first).unwrap();
        assert_eq!(
            root.iter().map(|c| c.status).collect::<Vec<_>>(),
            ["added", "added"]
        );
        let diff = repo
            .diff_text(
                Some(repo.tree_of(first).unwrap()),
                repo.tree_of(second).unwrap(),
            )
            .unwrap();
        assert!(
            diff.starts_with("diff --git a/worker.c b/worker.c\n"),
            "{diff}"
        );
        let (log, more) = repo.log(second, |_, _| true, 0, 10).unwrap();
        assert_eq!(
            log.iter().map(|c| c.message.as_str()).collect::<Vec<_>>(),
            ["cache the working set", "initial worker"]
        );
        assert!(!more);
        assert!(
            matches!(repo.at_path(repo.tree_of(second).unwrap(), "deploy").unwrap(), Some(Entry::Dir(d)) if d[0].0 == "worker.yaml")
        );
        // The objects are real git objects: a pack of them starts with git's signature.
        assert_eq!(&repo.pack().unwrap()[..4], b"PACK");
    }
}
