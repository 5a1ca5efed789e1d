//! Live diagnostics: one stream of samples per watched agent, shared by all its watchers. The first watcher starts
//! it (`WatchStart`), the last to leave stops it (`WatchStop`), and each new watcher renews the agent's own time
//! limit, so an agent streams only while somebody looks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use lifeline_shared::wire::{LiveSample, ServerControl};
use tokio::sync::broadcast;
use tracing::{info, warn};

use crate::State;

/// Samples a slow watcher may fall behind by before it skips to the newest: live data is worth nothing late.
const BACKLOG: usize = 8;

#[derive(Default)]
pub struct Live(Mutex<HashMap<String, Watch>>);

struct Watch {
    /// Each sample as JSON, serialised once for every watcher.
    samples: broadcast::Sender<Arc<str>>,
    watchers: usize,
    interval_ms: u32,
}

#[derive(Debug, thiserror::Error)]
#[error("agent {0} is not connected; live data needs it online")]
pub struct Offline(String);

/// One watcher of one agent; dropping it (the technician went away) may stop the agent's stream.
pub struct Watcher {
    state: Arc<State>,
    agent_id: String,
    pub samples: broadcast::Receiver<Arc<str>>,
}

impl Live {
    /// Joins (or starts) the agent's stream. The fastest interval any watcher asked for is the one the agent uses.
    pub fn watch(state: &Arc<State>, agent_id: &str, interval_ms: u32) -> Result<Watcher, Offline> {
        let mut map = state.live.0.lock().map_err(|_| Offline(agent_id.to_owned()))?;
        let watch = map.entry(agent_id.to_owned()).or_insert_with(|| Watch {
            samples: broadcast::channel(BACKLOG).0,
            watchers: 0,
            interval_ms,
        });
        watch.watchers += 1;
        watch.interval_ms = watch.interval_ms.min(interval_ms);
        let (samples, interval_ms, first) = (watch.samples.subscribe(), watch.interval_ms, watch.watchers == 1);
        if !state.connected.send(agent_id, ServerControl::WatchStart { interval_ms }) {
            leave(&mut map, agent_id);
            return Err(Offline(agent_id.to_owned()));
        }
        if first {
            info!(agent_id, interval_ms, "watch started");
        }
        Ok(Watcher { state: state.clone(), agent_id: agent_id.to_owned(), samples })
    }

    pub fn publish(&self, agent_id: &str, sample: &LiveSample) {
        let Ok(map) = self.0.lock() else { return };
        // Nobody watching: a sample still in flight when the last watcher left.
        let Some(watch) = map.get(agent_id) else { return };
        match serde_json::to_string(sample) {
            Ok(json) => drop(watch.samples.send(Arc::from(json))),
            Err(e) => warn!(agent_id, error = %e, "cannot serialise a live sample"),
        }
    }

    /// An agent that reconnects while watched is asked to stream again.
    pub fn resume(&self, state: &State, agent_id: &str) {
        let interval_ms = self.0.lock().ok().and_then(|m| m.get(agent_id).map(|w| w.interval_ms));
        if let Some(interval_ms) = interval_ms {
            state.connected.send(agent_id, ServerControl::WatchStart { interval_ms });
        }
    }
}

/// Takes one watcher off; true if it was the last.
fn leave(map: &mut HashMap<String, Watch>, agent_id: &str) -> bool {
    let Some(watch) = map.get_mut(agent_id) else { return false };
    watch.watchers = watch.watchers.saturating_sub(1);
    if watch.watchers > 0 {
        return false;
    }
    map.remove(agent_id);
    true
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let Ok(mut map) = self.state.live.0.lock() else { return };
        if leave(&mut map, &self.agent_id) {
            self.state.connected.send(&self.agent_id, ServerControl::WatchStop);
            info!(agent_id = %self.agent_id, "last watcher left; watch stopped");
        }
    }
}
