//! A GitHub stand-in, backed by real git objects: repositories held in libgit2's object
//! database in memory ([`git`]), the shop's users and `shop/worker` history ([`seed`]), and the
//! REST API v3 as GitHub's clients read it ([`rest`]). This is its first part (issue 12):
//! commits (list with filters, one commit with files, stats and patches, the diff and patch
//! media types), contents and users.

pub mod git;
pub mod rest;
pub mod seed;

use std::{
    collections::BTreeMap,
    sync::{Mutex, MutexGuard},
};

/// A GitHub user.
#[derive(Debug, Clone)]
pub struct User {
    pub login: String,
    pub id: u64,
    pub name: String,
    pub email: String,
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
    pub git: git::Repo,
}

/// The stand-in's state.
#[derive(Debug)]
pub struct GitHub {
    repos: Mutex<BTreeMap<String, RepoState>>,
    pub users: Vec<User>,
    /// The token clients authenticate with, and its user's login.
    pub token: String,
    pub token_user: String,
}

impl GitHub {
    /// The shop's GitHub as it is at `now` (unix seconds).
    pub fn shop(now: i64, token: String) -> Result<Self, git2::Error> {
        let mut repos = BTreeMap::new();
        repos.insert(
            "shop/worker".to_owned(),
            RepoState {
                owner: "shop".into(),
                name: "worker".into(),
                id: 700_001,
                private: true,
                default_branch: "main".into(),
                description: "Batch worker: decodes order batches from the queue".into(),
                git: seed::worker(now)?,
            },
        );
        Ok(Self {
            repos: Mutex::new(repos),
            users: seed::users(),
            token,
            token_user: "maya-chen".into(),
        })
    }

    pub fn repos(&self) -> MutexGuard<'_, BTreeMap<String, RepoState>> {
        self.repos.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn user_by_email(&self, email: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|u| u.email.eq_ignore_ascii_case(email))
    }
}
