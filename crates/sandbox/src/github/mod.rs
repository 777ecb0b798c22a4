//! A GitHub stand-in, backed by real git objects: repositories held in libgit2's object
//! database in memory ([`git`]), the shop's users and `shop/worker` history ([`seed`]), and the
//! REST API v3 as GitHub's clients read it ([`rest`]). Beside the git data each repository
//! keeps what GitHub keeps: labels, issues and pull requests (one numbering, as on GitHub),
//! protected branches.

pub mod app;
pub mod ci;
pub mod git;
pub mod rest;
pub mod seed;

use std::{
    collections::BTreeMap,
    sync::{
        Mutex, MutexGuard,
        atomic::{AtomicU64, Ordering},
    },
};

/// A GitHub user (or an App's bot).
#[derive(Debug, Clone)]
pub struct User {
    pub login: String,
    pub id: u64,
    pub name: String,
    pub email: String,
    pub bot: bool,
}

/// A repository: its git data and what GitHub keeps beside it.
#[derive(Debug)]
pub struct RepoState {
    pub owner: String,
    pub name: String,
    pub id: u64,
    pub private: bool,
    pub default_branch: String,
    pub description: String,
    pub created: i64,
    pub language: String,
    /// Branches that only take changes through a reviewed pull request.
    pub protected: Vec<String>,
    pub labels: Vec<Label>,
    /// Issues and pull requests by number.
    pub issues: BTreeMap<u64, Issue>,
    pub workflows: Vec<Workflow>,
    /// Workflow runs, oldest first.
    pub runs: Vec<Run>,
    /// Releases, oldest first.
    pub releases: Vec<Release>,
    /// Deployments, oldest first.
    pub deployments: Vec<Deployment>,
    pub git: git::Repo,
}

impl RepoState {
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    pub fn next_number(&self) -> u64 {
        self.issues.keys().next_back().map_or(1, |n| n + 1)
    }

    pub fn is_protected(&self, branch: &str) -> bool {
        self.protected.iter().any(|p| p == branch)
    }
}

/// A repository label.
#[derive(Debug, Clone)]
pub struct Label {
    pub id: u64,
    pub name: String,
    pub color: String,
    pub description: String,
}

/// A comment on an issue or pull request.
#[derive(Debug, Clone)]
pub struct Comment {
    pub id: u64,
    pub user: String,
    pub body: String,
    pub created: i64,
}

/// An issue, or the issue side of a pull request.
#[derive(Debug, Clone)]
pub struct Issue {
    pub number: u64,
    pub id: u64,
    pub title: String,
    pub body: Option<String>,
    pub user: String,
    pub open: bool,
    pub state_reason: Option<String>,
    pub labels: Vec<String>,
    pub assignees: Vec<String>,
    pub comments: Vec<Comment>,
    pub created: i64,
    pub updated: i64,
    pub closed: Option<i64>,
    pub pull: Option<Pull>,
}

/// What a pull request adds to its issue.
#[derive(Debug, Clone)]
pub struct Pull {
    pub id: u64,
    /// Branch names in the same repository.
    pub head: String,
    pub base: String,
    /// The head's commit when last seen (kept when the branch is deleted).
    pub head_sha: String,
    pub draft: bool,
    pub requested_reviewers: Vec<String>,
    pub reviews: Vec<Review>,
    pub merged: Option<Merged>,
}

/// A submitted review.
#[derive(Debug, Clone)]
pub struct Review {
    pub id: u64,
    pub user: String,
    /// `APPROVED`, `CHANGES_REQUESTED` or `COMMENTED`.
    pub state: String,
    pub body: String,
    pub commit: String,
    pub submitted: i64,
}

/// An Actions workflow (a file under `.github/workflows`).
#[derive(Debug, Clone)]
pub struct Workflow {
    pub id: u64,
    pub name: String,
    pub path: String,
    pub created: i64,
}

/// A workflow run and its jobs.
#[derive(Debug, Clone)]
pub struct Run {
    pub id: u64,
    pub workflow: u64,
    pub number: u64,
    pub event: String,
    pub branch: String,
    pub sha: String,
    pub title: String,
    pub actor: String,
    /// `success`, `failure`…; `None` while it runs.
    pub conclusion: Option<String>,
    pub created: i64,
    pub updated: i64,
    pub jobs: Vec<Job>,
}

/// A job of a run: its steps and its log.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: u64,
    pub name: String,
    pub conclusion: Option<String>,
    pub started: i64,
    pub completed: Option<i64>,
    pub steps: Vec<Step>,
    /// The plain-text log GitHub serves for the job (timestamped lines).
    pub log: String,
}

/// A step of a job.
#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    pub conclusion: Option<String>,
    pub started: i64,
    pub completed: Option<i64>,
}

/// A release of a tag.
#[derive(Debug, Clone)]
pub struct Release {
    pub id: u64,
    pub tag: String,
    pub name: String,
    pub body: String,
    pub author: String,
    pub created: i64,
    pub published: i64,
}

/// A deployment of a ref to an environment, with its statuses (oldest first).
#[derive(Debug, Clone)]
pub struct Deployment {
    pub id: u64,
    pub sha: String,
    pub reference: String,
    pub environment: String,
    pub description: String,
    pub creator: String,
    pub created: i64,
    /// What the deploy tool passed along (`{"image": …}`), served as the deployment's `payload`.
    pub payload: serde_json::Value,
    pub statuses: Vec<DeploymentStatus>,
}

#[derive(Debug, Clone)]
pub struct DeploymentStatus {
    pub id: u64,
    pub state: String,
    pub description: String,
    pub created: i64,
}

/// How a pull request was merged.
#[derive(Debug, Clone)]
pub struct Merged {
    /// The base's commit it was merged onto.
    pub base: String,
    pub at: i64,
    pub sha: String,
    pub by: String,
}

/// The stand-in's state.
#[derive(Debug)]
pub struct GitHub {
    repos: Mutex<BTreeMap<String, RepoState>>,
    pub users: Vec<User>,
    /// The token clients authenticate with, and its user's login.
    pub token: String,
    pub token_user: String,
    /// The incident App, installed for `shop/worker` only.
    pub app: app::App,
    ids: AtomicU64,
    /// Requests still to answer with the secondary rate limit, and its `retry-after`.
    secondary: AtomicU64,
    retry_after: AtomicU64,
}

impl GitHub {
    /// The shop's GitHub as it is at `now` (unix seconds).
    pub fn shop(now: i64, token: String) -> Result<Self, git2::Error> {
        let mut repos = BTreeMap::new();
        for repo in seed::repos(now)? {
            repos.insert(repo.full_name(), repo);
        }
        Ok(Self {
            repos: Mutex::new(repos),
            users: seed::users(),
            token,
            token_user: "maya-chen".into(),
            app: app::App::new(vec!["shop/worker".into()]),
            ids: AtomicU64::new(5_000_000),
            secondary: AtomicU64::new(0),
            retry_after: AtomicU64::new(60),
        })
    }

    /// Answer the next `n` API requests with GitHub's secondary rate limit (403 with
    /// `retry-after: seconds`), for fault tests.
    pub fn limit_secondary(&self, n: u64, seconds: u64) {
        self.retry_after.store(seconds, Ordering::SeqCst);
        self.secondary.store(n, Ordering::SeqCst);
    }

    /// Take one secondary-limited answer, if any are left: its `retry-after`.
    pub fn secondary_limited(&self) -> Option<u64> {
        self.secondary
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .ok()
            .map(|_| self.retry_after.load(Ordering::SeqCst))
    }

    /// A fresh id for a new object (comment, review, pull request…).
    pub fn next_id(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::Relaxed)
    }

    pub fn repos(&self) -> MutexGuard<'_, BTreeMap<String, RepoState>> {
        self.repos.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// When each image went live in production (unix seconds): the time of the `success`
    /// status of the production deployment whose payload names it.
    pub fn went_live(&self) -> BTreeMap<String, i64> {
        self.repos()
            .values()
            .flat_map(|r| &r.deployments)
            .filter(|d| d.environment == "production")
            .filter_map(|d| {
                let image = d.payload.get("image")?.as_str()?.to_owned();
                let live = d.statuses.iter().find(|s| s.state == "success")?;
                Some((image, live.created))
            })
            .collect()
    }

    pub fn user(&self, login: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|u| u.login.eq_ignore_ascii_case(login))
    }

    pub fn user_by_email(&self, email: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|u| u.email.eq_ignore_ascii_case(email))
    }
}
