//! `cargo install opsmcp-<name>` works from what would be published: the workspace is packaged
//! (`cargo package`, the `.crate` files crates.io would receive), the files are unpacked, and one
//! server is installed from its unpacked crate with its packaged `Cargo.lock` (`--locked`), the
//! internal crates it depends on taken from their own unpacked `.crate`s rather than crates.io.
//! The installed binary answers `--version` and lists the tools of its snapshot over stdio. A
//! source file, a scenario or a manifest field that `cargo package` leaves out fails here, not
//! after publishing. (`just package` verifies every crate's build the same way.)

use std::{collections::BTreeSet, path::Path, time::Duration};

use anyhow::{Context, Result, ensure};
use opsmcp_e2e::{TempDir, command, docs, run, workspace_root};
use rmcp::{ServiceExt, transport::TokioChildProcess};

/// The server installed (the smallest build of the six).
const SERVER: &str = "loki";
/// Crates that are not published (the e2e harness, the bench, the conformance fixture).
const UNPUBLISHED: &[&str] = &["opsmcp-e2e", "opsmcp-bench", "opsmcp-fixture"];
/// The libraries the servers depend on, published alongside them.
const LIBRARIES: &[&str] = &["opsmcp-core", "opsmcp-logql", "opsmcp-sandbox"];

fn cargo(dir: &Path, args: &[&str], timeout: Duration) -> Result<String> {
    let mut cmd = command(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(dir).args(args);
    let (ok, stdout, stderr) = run(cmd, timeout)?;
    ensure!(ok, "cargo {}: {stderr}", args.join(" "));
    Ok(stdout)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_installs_from_its_packaged_crate() -> Result<()> {
    let root = workspace_root();
    let dir = TempDir::new("packaging")?;
    let packaged = dir.path().join("target");
    let mut args = vec!["package", "--workspace", "--no-verify", "--allow-dirty"];
    for crate_name in UNPUBLISHED {
        args.extend(["--exclude", crate_name]);
    }
    let target = packaged.to_str().context("a UTF-8 path")?;
    args.extend(["--target-dir", target]);
    cargo(&root, &args, Duration::from_secs(300))?;

    let unpacked = dir.path().join("crates");
    std::fs::create_dir_all(&unpacked)?;
    let mut names = BTreeSet::new();
    for entry in std::fs::read_dir(packaged.join("package"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "crate") {
            let mut tar = command("tar");
            tar.arg("xzf").arg(&path).arg("-C").arg(&unpacked);
            let (ok, _, stderr) = run(tar, Duration::from_secs(60))?;
            ensure!(ok, "unpacking {}: {stderr}", path.display());
            names.insert(
                path.file_stem()
                    .and_then(|s| s.to_str())
                    .and_then(|s| s.rsplit_once('-'))
                    .map(|(name, _)| name.to_owned())
                    .context("name-version.crate")?,
            );
        }
    }
    let six: Vec<String> = docs::SERVERS
        .iter()
        .map(|s| format!("opsmcp-{s}"))
        .collect();
    for expected in six
        .iter()
        .map(String::as_str)
        .chain(LIBRARIES.iter().copied())
    {
        ensure!(
            names.contains(expected),
            "{expected} was not packaged: {names:?}"
        );
    }

    let version = env!("CARGO_PKG_VERSION");
    let package = format!("opsmcp-{SERVER}");
    let bin = dir.path().join("root");
    // The build cache of these installs lives with the workspace's, so a rerun is quick.
    let cache = std::env::var("CARGO_TARGET_DIR")
        .map_or_else(|_| root.join("target"), Into::into)
        .join("install-check");
    let source = unpacked.join(format!("{package}-{version}"));
    let mut install = vec![
        "install".to_owned(),
        "--locked".into(),
        "--debug".into(),
        "--quiet".into(),
        "--root".into(),
        bin.display().to_string(),
        "--target-dir".into(),
        cache.display().to_string(),
        "--path".into(),
        source.display().to_string(),
    ];
    for library in LIBRARIES {
        install.push("--config".into());
        install.push(format!(
            "patch.crates-io.{library}.path={:?}",
            unpacked
                .join(format!("{library}-{version}"))
                .display()
                .to_string()
        ));
    }
    let install: Vec<&str> = install.iter().map(String::as_str).collect();
    // Outside the workspace, as a user's `cargo install` runs.
    cargo(dir.path(), &install, Duration::from_secs(1200))?;

    let exe = bin.join("bin").join(&package);
    let mut cmd = command(&exe);
    cmd.arg("--version");
    let (ok, stdout, stderr) = run(cmd, Duration::from_secs(30))?;
    ensure!(ok, "{package} --version: {stderr}");
    assert_eq!(stdout.trim(), format!("{package} {version}"));

    let client = ().serve(TokioChildProcess::new(tokio::process::Command::new(&exe))?).await?;
    let listed: BTreeSet<String> = client
        .list_all_tools()
        .await?
        .into_iter()
        .map(|t| t.name.into_owned())
        .collect();
    client.cancel().await?;
    let expected: BTreeSet<String> = docs::snapshot(SERVER)
        .iter()
        .filter_map(|t| t["name"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        listed, expected,
        "the installed {package} lists its snapshot's tools"
    );
    Ok(())
}
