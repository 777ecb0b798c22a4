//! The server under test, built in process from its command line, and the incident sandbox
//! with a kubeconfig for it.

use std::time::Duration;

use opsmcp_core::{config::Cli, identity};
use opsmcp_e2e::mcp::{Approver, IncidentSetup};
use opsmcp_kubernetes::{KubernetesServer, config::KubernetesArgs};

/// The server with these command-line arguments (after the program name).
pub fn server(args: &[String]) -> KubernetesServer {
    let mut argv = vec!["opsmcp-kubernetes".to_owned()];
    argv.extend(args.iter().cloned());
    let cli: Cli<KubernetesArgs> = opsmcp_core::config::parse_from(identity!(), argv).unwrap();
    opsmcp_e2e::assemble(identity!(), &cli, |args, safety, metrics| {
        Ok::<_, std::convert::Infallible>(KubernetesServer::new(args, safety, metrics))
    })
    .unwrap()
}

/// The incident sandbox and the server with `extra` arguments, pointed at it by a kubeconfig
/// in the scratch directory; the client cannot ask its user.
pub async fn setup(extra: &[&str]) -> IncidentSetup {
    setup_answering(Approver::default(), extra).await
}

/// [`setup`] with a client whose user answers approval questions as `approver` does.
pub async fn setup_answering(approver: Approver, extra: &[&str]) -> IncidentSetup {
    IncidentSetup::start_with(
        "k8s-test",
        Duration::from_secs(30),
        approver,
        |sandbox, dir| {
            let kubeconfig = dir.join("kubeconfig");
            std::fs::write(&kubeconfig, sandbox.kubeconfig()).unwrap();
            let mut args = vec![
                "--kubeconfig".to_owned(),
                kubeconfig.display().to_string(),
                "--audit-log".into(),
                dir.join("audit.jsonl").display().to_string(),
                "--kubectl-cache-dir".into(),
                dir.join("kubectl-cache").display().to_string(),
            ];
            args.extend(extra.iter().map(|s| s.to_string()));
            server(&args)
        },
    )
    .await
}
