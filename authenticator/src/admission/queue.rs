//! Work slots with a fair queue: waiting steps are granted round robin over addresses.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use super::{AddressKey, Admission};

/// A queued step: granted by the releasing side, woken through its waker.
struct Slot {
    granted: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Slot {
    fn lock_waker(&self) -> MutexGuard<'_, Option<Waker>> {
        self.waker.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct State {
    in_use: usize,
    queued: usize,
    queues: HashMap<AddressKey, VecDeque<Arc<Slot>>>,
    /// Addresses with queued steps, in the order they are served.
    rotation: VecDeque<AddressKey>,
}

pub(super) struct WorkQueue {
    limit: usize,
    state: Mutex<State>,
}

impl WorkQueue {
    pub(super) fn new(limit: usize) -> Self {
        Self {
            limit: limit.max(1),
            state: Mutex::new(State {
                in_use: 0,
                queued: 0,
                queues: HashMap::new(),
                rotation: VecDeque::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Counters and queues are only changed in whole steps under the lock.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn usage(&self) -> (usize, usize) {
        let state = self.lock();
        (state.in_use, state.queued)
    }

    /// Takes a slot if one is free and nobody waits (queued steps go first).
    pub(super) fn try_acquire(&self) -> bool {
        let mut state = self.lock();
        if state.in_use < self.limit && state.queued == 0 {
            state.in_use += 1;
            true
        } else {
            false
        }
    }

    /// Takes a slot now, or queues `slot` under `key`.
    fn acquire_or_enqueue(&self, key: AddressKey, slot: &Arc<Slot>) -> bool {
        let mut state = self.lock();
        if state.in_use < self.limit && state.queued == 0 {
            state.in_use += 1;
            return true;
        }
        let queue = state.queues.entry(key).or_default();
        let first = queue.is_empty();
        queue.push_back(Arc::clone(slot));
        if first {
            state.rotation.push_back(key);
        }
        state.queued += 1;
        false
    }

    /// Gives a slot back: to the head of the next address in the rotation, if any waits.
    fn release(&self) {
        let waker = {
            let mut state = self.lock();
            match Self::next_waiter(&mut state) {
                Some(slot) => {
                    slot.granted.store(true, Ordering::Release);
                    slot.lock_waker().take()
                }
                None => {
                    state.in_use = state.in_use.saturating_sub(1);
                    None
                }
            }
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn next_waiter(state: &mut State) -> Option<Arc<Slot>> {
        let key = state.rotation.pop_front()?;
        let queue = state.queues.get_mut(&key)?;
        let slot = queue.pop_front();
        if queue.is_empty() {
            state.queues.remove(&key);
            super::shrink_if_sparse(&mut state.queues);
            super::shrink_deque_if_sparse(&mut state.rotation);
        } else {
            state.rotation.push_back(key);
        }
        if slot.is_some() {
            state.queued = state.queued.saturating_sub(1);
        }
        slot
    }

    /// Removes a queued slot that gave up; `false` if it was not queued (already granted).
    fn withdraw(&self, key: AddressKey, slot: &Arc<Slot>) -> bool {
        let mut state = self.lock();
        let Some(queue) = state.queues.get_mut(&key) else {
            return false;
        };
        let Some(at) = queue.iter().position(|s| Arc::ptr_eq(s, slot)) else {
            return false;
        };
        queue.remove(at);
        if queue.is_empty() {
            state.queues.remove(&key);
            state.rotation.retain(|k| *k != key);
            super::shrink_if_sparse(&mut state.queues);
            super::shrink_deque_if_sparse(&mut state.rotation);
        }
        state.queued = state.queued.saturating_sub(1);
        true
    }
}

/// A work slot (a credential lookup or a proof check may run); dropping it passes the slot
/// to the next queued step.
pub struct WorkPermit {
    admission: Arc<Admission>,
}

impl WorkPermit {
    pub(super) fn new(admission: Arc<Admission>) -> Self {
        Self { admission }
    }
}

impl fmt::Debug for WorkPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WorkPermit")
    }
}

impl Drop for WorkPermit {
    fn drop(&mut self) {
        self.admission.queue.release();
    }
}

/// The future [`Admission::work`] returns: resolves to a [`WorkPermit`] when this step's turn
/// comes. Runtime-free; cancel-safe (dropping it leaves the queue, or passes on a slot that was
/// granted but not yet taken).
#[must_use = "a future does nothing unless polled"]
pub struct WaitForWork {
    admission: Arc<Admission>,
    key: AddressKey,
    slot: Option<Arc<Slot>>,
    done: bool,
}

impl WaitForWork {
    pub(super) fn new(admission: Arc<Admission>, key: AddressKey) -> Self {
        Self {
            admission,
            key,
            slot: None,
            done: false,
        }
    }
}

impl fmt::Debug for WaitForWork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitForWork")
            .field("address", &self.key)
            .field("queued", &self.slot.is_some())
            .finish()
    }
}

impl Future for WaitForWork {
    type Output = WorkPermit;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<WorkPermit> {
        let this = &mut *self;
        if this.done {
            // Polled again after completion: hand out nothing new; stay pending.
            return Poll::Pending;
        }
        let granted = match &this.slot {
            None => {
                let slot = Arc::new(Slot {
                    granted: AtomicBool::new(false),
                    waker: Mutex::new(Some(cx.waker().clone())),
                });
                let now = this.admission.queue.acquire_or_enqueue(this.key, &slot);
                if !now {
                    this.slot = Some(slot);
                }
                now
            }
            Some(slot) => {
                if slot.granted.load(Ordering::Acquire) {
                    true
                } else {
                    *slot.lock_waker() = Some(cx.waker().clone());
                    // Granted between the check and storing the waker?
                    slot.granted.load(Ordering::Acquire)
                }
            }
        };
        if granted {
            this.done = true;
            Poll::Ready(WorkPermit::new(Arc::clone(&this.admission)))
        } else {
            Poll::Pending
        }
    }
}

impl Drop for WaitForWork {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if let Some(slot) = &self.slot {
            let queue = &self.admission.queue;
            if !queue.withdraw(self.key, slot) && slot.granted.load(Ordering::Acquire) {
                // Granted, never taken: pass the slot on.
                queue.release();
            }
        }
    }
}
