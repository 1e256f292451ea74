//! Confab's event bus and ephemeral state: in process memory for the embedded
//! shape, Redis for several nodes. Everything here may be lost without losing
//! user data: the database stays the authority. Also the outbound requests
//! that deliver events to integrations, guarded against reaching inside.
#![forbid(unsafe_code)]

mod memory;
mod outbound;
mod redis;
mod ttl_map;

use confab_core::ports::{BusItem, BusStream};
use confab_core::realtime::FillToken;
use tokio::sync::broadcast;

pub use crate::memory::{MemoryBus, MemoryState};
pub use crate::outbound::{is_internal, HttpOutbound};
pub use crate::redis::{NodeClock, RedisBus, RedisOptions, RedisState};

/// Events buffered for a node subscriber that falls behind; past this, it is
/// told about a gap and catches up from the database.
pub const BUS_BUFFER: usize = 16_384;

fn new_fill_token() -> FillToken {
    FillToken(confab_core::id::random_hex_id())
}

/// A broadcast receiver as a bus stream, each item turned into a bus item by
/// `wrap`; a receiver that lagged behind is told about the gap.
fn broadcast_stream<T>(receiver: broadcast::Receiver<T>, wrap: fn(T) -> BusItem) -> BusStream
where
    T: Clone + Send + 'static,
{
    Box::pin(futures_util::stream::unfold(
        receiver,
        move |mut receiver| async move {
            match receiver.recv().await {
                Ok(item) => Some((wrap(item), receiver)),
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    Some((BusItem::Gap { since: None }, receiver))
                }
                Err(broadcast::error::RecvError::Closed) => None,
            }
        },
    ))
}
