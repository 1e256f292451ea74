//! Confab's use cases. This is the only layer that checks permissions and
//! orchestrates the ports; the HTTP layer calls one method per request.
#![forbid(unsafe_code)]

use confab_core::ports::Stores;
use confab_core::Result;

/// Every use case of the server, over the ports it was given.
#[derive(Clone)]
pub struct Services {
    stores: Stores,
}

impl Services {
    /// Services over the given stores.
    pub fn new(stores: Stores) -> Self {
        Self { stores }
    }

    /// Whether the server can serve requests: its database answers.
    pub async fn readiness(&self) -> Result<()> {
        self.stores.admin.ping().await
    }

    /// The name of the storage backend in use.
    pub fn storage_backend(&self) -> &'static str {
        self.stores.admin.backend()
    }
}
