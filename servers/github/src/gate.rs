//! The one way a change reaches GitHub: described as the exact requests it sends, risk-rated,
//! passed through the safety engine (`Safety::gate`: planned, asked or run per the mode;
//! audited; the breaker counts failures), made, and reported only as GitHub's answer shows it.

use opsmcp_core::{
    approval::{Exchange, Proposal},
    risk::{Action, RiskLevel},
};
use rmcp::{ErrorData, model::CallToolResponse};
use serde::Serialize;

use crate::GitHubServer;

/// What a change does, for the gate and the audit log.
pub(crate) struct Change {
    pub tool: &'static str,
    pub verb: &'static str,
    pub resource: &'static str,
    /// `shop/worker#44`, `shop/worker branch fix/oom`.
    pub target: String,
    pub risk: RiskLevel,
    pub detail: String,
    /// `METHOD URL body` per request, in order.
    pub requests: Vec<String>,
}

impl GitHubServer {
    /// Gate `change`; when it may proceed, `run` makes it and says what GitHub now holds (or
    /// why not).
    pub(crate) async fn change<Fut>(
        &self,
        exchange: Exchange,
        arguments: &impl Serialize,
        change: Change,
        preview: Option<String>,
        run: impl FnOnce() -> Fut,
    ) -> Result<CallToolResponse, ErrorData>
    where
        Fut: Future<Output = Result<String, String>>,
    {
        let action = Action {
            tool: change.tool.into(),
            verb: change.verb.into(),
            resource: Some(change.resource.into()),
            name: Some(change.target),
            base: Some(change.risk),
            detail: Some(change.detail),
            ..Action::default()
        };
        let proposal = Proposal::new(action, arguments, change.requests.join("\n"));
        self.safety()
            .apply(&exchange, proposal, async { preview }, run)
            .await
    }

    /// `POST https://…/route {body}` for a plan.
    pub(crate) fn request(&self, method: &str, route: &str, body: &serde_json::Value) -> String {
        let described = self.gh().describe(method, route);
        if body.is_null() {
            described
        } else {
            format!("{described} {body}")
        }
    }
}
