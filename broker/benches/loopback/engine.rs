//! The engine's exchange alone, in process, on one thread: the same calls the broker makes
//! per handshake (`start` → `MemoryProvider` lookup → `continue_with` with the thread RNG →
//! `finish`, with a clock reading for each timestamp), and only those timed. The client's
//! part (new nonce, proof, server signature check) runs between the timed regions, in
//! batches of 8 like `benches/compare_servers.rs`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mqtt_scram::client::Authenticated;
use mqtt_scram::provider::{MemoryProvider, SyncCredentialProvider};
use mqtt_scram::server::ServerChallenge;
use mqtt_scram::{Clock, ConnectionInfo, Outcome, ScramServer, StartPacket, SystemClock};

use super::mqtt::METHOD;

const BATCH: usize = 8;

/// Server-side time of `n` exchanges, cycling through `clients` (which come back
/// re-authenticated).
pub fn exchanges(
    server: &ScramServer,
    store: &MemoryProvider,
    clients: &mut Vec<Authenticated>,
    n: u64,
) -> Duration {
    let clock = SystemClock::new();
    let info = Arc::new(ConnectionInfo::new("engine-alone"));
    let mut timed = Duration::ZERO;
    let mut left = n;
    let mut pending: Vec<(ServerChallenge, Vec<u8>)> = Vec::with_capacity(BATCH);
    let mut states = Vec::with_capacity(BATCH);
    let mut outcomes = Vec::with_capacity(BATCH);
    while left > 0 {
        let batch = left.min(BATCH as u64) as usize;
        left -= batch as u64;
        let firsts: Vec<_> = clients
            .drain(..batch)
            .map(|c| c.reauthenticate(&mut rand::rng()))
            .collect();
        let began = Instant::now();
        for (_, first) in &firsts {
            let packet = StartPacket::Connect {
                method: METHOD,
                data: Some(black_box(first)),
            };
            let need = server.start(&info, packet, clock.now()).unwrap();
            let lookup = store.lookup_sync(&need.request());
            let (challenge, reply) = need.continue_with(lookup, &mut rand::rng());
            pending.push((challenge, reply.data.unwrap_or_default()));
        }
        timed += began.elapsed();
        states.clear();
        for ((state, _), (_, server_first)) in firsts.into_iter().zip(&pending) {
            states.push(state.on_server_first(server_first).unwrap());
        }
        let began = Instant::now();
        outcomes.extend(
            pending
                .drain(..)
                .zip(&states)
                .map(|((challenge, _), (_, last))| {
                    challenge.finish(0x18, METHOD, Some(black_box(last)), clock.now())
                }),
        );
        timed += began.elapsed();
        for ((state, _), outcome) in states.drain(..).zip(outcomes.drain(..)) {
            let Outcome::Accepted { reply, .. } = outcome else {
                panic!("the engine refused a bench exchange")
            };
            clients.push(
                state
                    .on_server_final(&reply.data.unwrap_or_default())
                    .unwrap(),
            );
        }
    }
    timed
}
