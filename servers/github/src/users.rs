//! People: a GitHub login from an email (the on-call engineer PagerDuty names), a login or a
//! name, so the fix can @-mention them.

use octocrab::models::UserProfile;
use rmcp::{
    ErrorData,
    handler::server::wrapper::Parameters,
    model::CallToolResult,
    schemars::{self, JsonSchema},
    tool, tool_router,
};
use serde::{Deserialize, Serialize};

use crate::{
    GitHubServer,
    client::GhError,
    render::{Table, failure, line, or_fail, text},
};

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct UsersFindArgs {
    /// Email, login or name
    pub query: String,
}

#[tool_router(router = users_router, vis = "pub(crate)")]
impl GitHubServer {
    /// Find a GitHub user by email (e.g. PagerDuty's on-call), login or name.
    #[tool]
    pub async fn users_find(
        &self,
        Parameters(args): Parameters<UsersFindArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let q = args.query.trim();
        if q.is_empty() || q.contains(char::is_control) {
            return Ok(failure("give an email, a login or a name"));
        }
        // A login is looked up directly; an email or a name is searched.
        let is_login = !q.contains(['@', ' ']);
        if is_login {
            let what = format!("user {q}");
            match self
                .gh()
                .read(&what, |c| async move { c.users(q).profile().await })
                .await
            {
                Ok(u) => return Ok(text(profile(&u))),
                Err(GhError::NotFound(_)) => {}
                Err(e) => return Ok(failure(e)),
            }
        }
        let search = if q.contains('@') {
            format!("{q} in:email")
        } else {
            format!("{q} in:login in:name")
        };
        let found = or_fail!(
            self.gh()
                .read("user search", |c| {
                    let search = &search;
                    async move { c.search().users(search).per_page(10u8).send().await }
                })
                .await
        );
        if found.items.is_empty() {
            let hint = if q.contains('@') {
                " (GitHub matches only emails a user made public; ask for their login)"
            } else {
                ""
            };
            return Ok(text(format!("no GitHub user matches {q}{hint}")));
        }
        let mut table = Table::new(["LOGIN", "MENTION"]);
        for u in &found.items {
            table.row([u.login.clone(), format!("@{}", u.login)]);
        }
        Ok(text(format!(
            "{} user{} for {}:\n{}",
            found.items.len(),
            if found.items.len() == 1 { "" } else { "s" },
            line(q, 100),
            table.render()
        )))
    }
}

fn profile(u: &UserProfile) -> String {
    let name = u.name.as_deref().map(|n| line(n, 80)).unwrap_or_default();
    let email = u.email.as_deref().map(|e| line(e, 120)).unwrap_or_default();
    format!(
        "@{} {name}{}",
        u.login,
        if email.is_empty() {
            String::new()
        } else {
            format!(" <{email}>")
        }
    )
}
