//! A Notion stand-in that Notion's official Python client accepts: the API of `Notion-Version`
//! 2025-09-03 and later ([`rest`]) over a workspace ([`model`]) of pages, blocks, databases
//! holding data sources, comments and users; blocks and rich text checked against Notion's
//! limits ([`blocks`]), property values against schemas ([`properties`]), queries with Notion's
//! filter grammar ([`query`]); the shop's runbooks, incidents and post-mortem template
//! ([`seed`]). It listens on a port of its own and knows nothing of the other stand-ins.
//!
//! Requests are rate limited per token as Notion does (about three a second on average, with
//! bursts): a token bucket, configurable for fault tests.

pub mod blocks;
pub mod model;
pub mod properties;
pub mod query;
pub mod rest;
pub mod seed;

use std::{
    sync::{Mutex, MutexGuard},
    time::Instant,
};

use uuid::Uuid;

use self::{
    blocks::NewBlock,
    model::{Block, Parent, Stamp, Store},
};

/// A token bucket: `rate` requests a second on average, bursts of `burst`.
#[derive(Debug)]
struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

/// The stand-in's state.
#[derive(Debug)]
pub struct Notion {
    store: Mutex<Store>,
    /// The integration's token, and its bot user.
    pub token: String,
    pub bot: Uuid,
    bucket: Mutex<Bucket>,
}

impl Notion {
    pub fn new(store: Store, token: String, bot: Uuid) -> Self {
        Self {
            store: Mutex::new(store),
            token,
            bot,
            bucket: Mutex::new(Bucket {
                rate: 3.0,
                burst: 60.0,
                tokens: 60.0,
                at: Instant::now(),
            }),
        }
    }

    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Allow `rate` requests a second on average with bursts of `burst` (fault tests lower
    /// it; the default is Notion's 3 a second, with a minute of burst).
    pub fn limit(&self, rate: f64, burst: f64) {
        let mut b = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
        *b = Bucket {
            rate: rate.max(0.01),
            burst: burst.max(1.0),
            tokens: burst.max(1.0),
            at: Instant::now(),
        };
    }

    /// Take a request from the bucket, or the whole seconds to wait (`Retry-After`).
    pub fn admit(&self) -> Result<(), u64> {
        let mut b = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let elapsed = now.duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * b.rate).min(b.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - b.tokens) / b.rate).ceil().max(1.0) as u64)
        }
    }
}

impl Store {
    /// Store `new` blocks under `parent` (a page or block) in order, recursively; the ids of
    /// the first level. `at` is where in the parent's children they go (`None`: the end).
    pub fn insert_blocks(
        &mut self,
        parent: Uuid,
        new: Vec<NewBlock>,
        at: Option<usize>,
        stamp: &Stamp,
    ) -> Vec<Uuid> {
        let container = if self.pages.contains_key(&parent) {
            Parent::Page(parent)
        } else {
            Parent::Block(parent)
        };
        let mut ids = Vec::with_capacity(new.len());
        for b in new {
            let id = Uuid::new_v4();
            self.blocks.insert(
                id,
                Block {
                    id,
                    parent: container.clone(),
                    kind: b.kind,
                    content: b.content,
                    children: Vec::new(),
                    in_trash: false,
                    stamp: stamp.clone(),
                },
            );
            self.insert_blocks(id, b.children, None, stamp);
            ids.push(id);
        }
        if let Some(list) = self.child_ids_mut(parent) {
            let at = at.unwrap_or(list.len()).min(list.len());
            list.splice(at..at, ids.iter().copied());
        }
        ids
    }

    /// The ids of a page's or block's children, in order (the trashed too).
    pub fn child_ids(&self, parent: Uuid) -> Option<&Vec<Uuid>> {
        self.pages
            .get(&parent)
            .map(|p| &p.children)
            .or_else(|| self.blocks.get(&parent).map(|b| &b.children))
    }

    fn child_ids_mut(&mut self, parent: Uuid) -> Option<&mut Vec<Uuid>> {
        match self.pages.get_mut(&parent) {
            Some(p) => Some(&mut p.children),
            None => self.blocks.get_mut(&parent).map(|b| &mut b.children),
        }
    }

    /// The live children of a page or block, in order.
    pub fn children(&self, parent: Uuid) -> Vec<&Block> {
        self.child_ids(parent)
            .into_iter()
            .flatten()
            .filter_map(|id| self.blocks.get(id))
            .filter(|b| !b.in_trash)
            .collect()
    }

    /// Whether an object is in the trash, itself or through an ancestor.
    pub fn trashed(&self, id: Uuid) -> bool {
        let mut current = Some(id);
        for _ in 0..64 {
            let Some(at) = current else {
                return false;
            };
            let (trash, parent) = if let Some(p) = self.pages.get(&at) {
                (p.in_trash, p.parent.clone())
            } else if let Some(b) = self.blocks.get(&at) {
                (b.in_trash, b.parent.clone())
            } else if let Some(d) = self.databases.get(&at) {
                (d.in_trash, d.parent.clone())
            } else {
                return false;
            };
            if trash {
                return true;
            }
            current = match parent {
                Parent::Page(p) | Parent::Block(p) | Parent::Database(p) => Some(p),
                Parent::DataSource { database, .. } => Some(database),
                Parent::Workspace => None,
            };
        }
        false
    }
}
