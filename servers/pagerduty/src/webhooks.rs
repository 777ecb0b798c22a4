//! The tool over the webhook inbox ([`crate::inbox`]): the incident events PagerDuty pushed.

use rmcp::{
    ErrorData,
    handler::server::wrapper::Parameters,
    model::CallToolResult,
    schemars::{self, JsonSchema},
    tool, tool_router,
};
use serde::{Deserialize, Serialize};

use crate::{PagerDutyServer, inbox::KEEP, render::text};

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct RecentArgs {
    /// Max (default 20)
    pub limit: Option<usize>,
}

#[tool_router(router = webhooks_router, vis = "pub(crate)")]
impl PagerDutyServer {
    /// Webhook events PagerDuty pushed, newest first (also pagerduty://events).
    #[tool]
    pub async fn events_recent(
        &self,
        Parameters(args): Parameters<RecentArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(text(
            self.events()
                .render(args.limit.unwrap_or(20).clamp(1, KEEP)),
        ))
    }
}
