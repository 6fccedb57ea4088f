//! The state a channel's two ends share, and its three waits, each a cooperative wait
//! (`detect/cooperative.rs`): the receiver waiting for a value, a sender waiting for room in a
//! bounded channel, and a rendezvous sender waiting for the receiver to take its value.
//!
//! Invariants, all under the channel's one facade lock:
//!
//! - `queue.len() + reserved <= capacity`, and room that is free and not reserved exists only
//!   while no sender waits for room: a taker hands the room it frees to the oldest waiting
//!   sender at once (reserves it, grants the sender, wakes it). So a waiter has been granted
//!   exactly when it is no longer in line, and no sender passes the line.
//! - A waiting receiver is in `receiving` until a value or the disconnection is handed to it;
//!   whoever hands it over takes it out, grants it and wakes it, in that order.
//! - A rendezvous channel holds at most one value; while its sender waits for the take, it
//!   is in `handing_over`, and the value is its own.
//! - No value is dropped under the lock (a value may hold an end of this very channel).
//!
//! The fast paths (a send with room, a receive with a value, nobody waiting) are one lock
//! round trip and never call the detector.

use crate::detect::{self, CoopWait, ResourceMeta, WaiterToken, WakeBy};
use crate::facade::sync::{Arc, Condvar, Mutex, MutexGuard};
use crate::report::Access;
use std::collections::VecDeque;
use std::panic::Location;
use std::sync::mpsc::{RecvTimeoutError, SendError, TryRecvError, TrySendError};
use std::time::Instant;

/// One channel, shared by its ends.
pub(super) struct Chan<T> {
    state: Mutex<State<T>>,
    /// Where the receiver waits (each waiting sender has a condition variable of its own).
    receiver_wakes: Arc<Condvar>,
    /// The channel, as a resource for reports.
    meta: ResourceMeta,
}

struct State<T> {
    /// The values, each with its sender's past (`detect::release`), which its receiver takes in:
    /// what a thread did before it sent happened before what the receiver does after.
    queue: VecDeque<(T, detect::Carried)>,
    /// How many values the queue may hold: `usize::MAX` unbounded, 1 for a rendezvous.
    capacity: usize,
    rendezvous: bool,
    /// Live `Sender`s or `SyncSender`s.
    senders: usize,
    /// Whether the `Receiver` is alive.
    receiver: bool,
    /// The receiver, while it waits and nothing has been handed to it.
    receiving: Option<Parked>,
    /// Senders waiting for room, oldest first.
    in_line: VecDeque<Parked>,
    /// Rooms handed to senders that left the line and have not filled them yet.
    reserved: usize,
    /// Numbers the senders in line, so each knows whether it is still there.
    next_ticket: u64,
    /// Rendezvous: values sent, and values taken by the receiver.
    sent: u64,
    taken: u64,
    /// Rendezvous: the sender whose value is in the queue, while it waits for the take.
    handing_over: Option<Parked>,
}

/// A waiting thread, as the thread that ends its wait sees it.
struct Parked {
    token: Option<WaiterToken>,
    ticket: u64,
    wakes: Arc<Condvar>,
}

impl Parked {
    /// Grants the waiter, then wakes it. Called under the channel's lock.
    fn unpark(self) {
        if let Some(token) = self.token {
            detect::grant(token);
        }
        self.wakes.notify_one();
    }
}

impl<T> State<T> {
    fn has_room(&self) -> bool {
        self.queue.len() + self.reserved < self.capacity
    }

    /// Queues a value and hands it to the receiver if it waits.
    fn push(&mut self, value: T) {
        self.queue.push_back((value, detect::release()));
        self.sent += 1;
        if let Some(receiver) = self.receiving.take() {
            receiver.unpark();
        }
    }

    /// Takes the oldest value: a rendezvous sender learns its value was taken, and the room
    /// goes to the oldest sender in line.
    fn take(&mut self) -> Option<T> {
        let (value, carried) = self.queue.pop_front()?;
        detect::acquire(&carried);
        if self.rendezvous {
            self.taken += 1;
            if let Some(sender) = self.handing_over.take() {
                sender.unpark();
            }
        }
        self.room_freed();
        Some(value)
    }

    fn room_freed(&mut self) {
        if let Some(next) = self.in_line.pop_front() {
            self.reserved += 1;
            next.unpark();
        }
    }

    fn in_line(&self, ticket: u64) -> Option<usize> {
        self.in_line.iter().position(|p| p.ticket == ticket)
    }
}

impl<T> Chan<T> {
    /// A channel with room for `capacity` values (`None`: unbounded; `Some(0)`: rendezvous).
    pub(super) fn new(capacity: Option<usize>, meta: ResourceMeta) -> Chan<T> {
        let rendezvous = capacity == Some(0);
        Chan {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                capacity: capacity.map_or(usize::MAX, |c| c.max(1)),
                rendezvous,
                senders: 1,
                receiver: true,
                receiving: None,
                in_line: VecDeque::new(),
                reserved: 0,
                next_ticket: 0,
                sent: 0,
                taken: 0,
                handing_over: None,
            }),
            receiver_wakes: Arc::new(Condvar::new()),
            meta,
        }
    }

    /// Sends `value`: at once while there is room; else after waiting for room; on a
    /// rendezvous channel, returns once the receiver has taken it.
    #[track_caller]
    pub(super) fn send(&self, value: T) -> Result<(), SendError<T>> {
        let mut state = self.state.lock();
        if !state.receiver {
            return Err(SendError(value));
        }
        if state.has_room() && !state.rendezvous {
            state.push(value);
            return Ok(());
        }
        self.send_slow(state, value)
    }

    #[cold]
    #[track_caller]
    fn send_slow(&self, state: MutexGuard<'_, State<T>>, value: T) -> Result<(), SendError<T>> {
        let mut sending = Locked {
            state: Some(state),
            phase: Phase::Idle,
        };
        let wakes = Arc::new(Condvar::new());
        let mut waiting = None;
        if !sending.state().has_room() {
            let coop = waiting.insert(CoopWait::begin(
                &self.meta,
                Access::Send,
                WakeBy::Anyone,
                Location::caller(),
                false,
            ));
            let state = sending.state();
            let ticket = state.next_ticket;
            state.next_ticket += 1;
            state.in_line.push_back(Parked {
                token: coop.token(),
                ticket,
                wakes: wakes.clone(),
            });
            sending.phase = Phase::InLine(ticket);
            loop {
                sending.sleep(coop, &self.state, &wakes, None);
                let state = sending.state();
                if !state.receiver {
                    sending.phase = Phase::Idle;
                    return Err(SendError(value));
                }
                if state.in_line(ticket).is_none() {
                    state.reserved -= 1; // the room handed to this sender
                    sending.phase = Phase::Idle;
                    break;
                }
                coop.again();
            }
        }
        let state = sending.state();
        state.push(value);
        if !state.rendezvous {
            return Ok(());
        }
        // Rendezvous: wait until the receiver has taken the value. The value is queued (and
        // any waiting receiver granted) before this wait is registered, so the detector never
        // sees this sender asleep while its value is not yet offered.
        let seq = state.sent - 1;
        sending.phase = Phase::HandingOver(seq);
        let token = match &mut waiting {
            Some(coop) => {
                coop.again(); // granted room, now blocked on the take
                coop.token()
            }
            None => waiting
                .insert(CoopWait::begin(
                    &self.meta,
                    Access::Send,
                    WakeBy::Anyone,
                    Location::caller(),
                    false,
                ))
                .token(),
        };
        let coop = waiting.as_mut().expect("registered just above");
        sending.state().handing_over = Some(Parked {
            token,
            ticket: 0,
            wakes: wakes.clone(),
        });
        loop {
            sending.sleep(coop, &self.state, &wakes, None);
            let state = sending.state();
            if state.taken > seq {
                sending.phase = Phase::Idle;
                return Ok(());
            }
            if !state.receiver {
                state.handing_over = None;
                let (value, _) = state
                    .queue
                    .pop_back()
                    .expect("impasse: an untaken rendezvous value is in the queue");
                sending.phase = Phase::Idle;
                drop(sending);
                return Err(SendError(value));
            }
            coop.again();
        }
    }

    /// `try_send`: sends only if that needs no wait (on a rendezvous channel: only to a
    /// receiver that is waiting).
    pub(super) fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let mut state = self.state.lock();
        if !state.receiver {
            return Err(TrySendError::Disconnected(value));
        }
        if !state.has_room() || (state.rendezvous && state.receiving.is_none()) {
            return Err(TrySendError::Full(value));
        }
        state.push(value);
        Ok(())
    }

    /// Receives a value, waiting for one until `deadline` (`None`: as long as it takes);
    /// `Disconnected` once the queue is empty and every sender is gone.
    #[track_caller]
    pub(super) fn recv(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        let mut state = self.state.lock();
        if let Some(value) = state.take() {
            return Ok(value);
        }
        if state.senders == 0 {
            return Err(RecvTimeoutError::Disconnected);
        }
        self.recv_slow(state, deadline)
    }

    #[cold]
    #[track_caller]
    fn recv_slow(
        &self,
        state: MutexGuard<'_, State<T>>,
        deadline: Option<Instant>,
    ) -> Result<T, RecvTimeoutError> {
        if deadline.is_some_and(|d| d <= Instant::now()) {
            return Err(RecvTimeoutError::Timeout);
        }
        let mut receiving = Locked {
            state: Some(state),
            phase: Phase::Idle,
        };
        let mut coop = CoopWait::begin(
            &self.meta,
            Access::Receive,
            WakeBy::Anyone,
            Location::caller(),
            deadline.is_some(),
        );
        let token = coop.token();
        receiving.state().receiving = Some(self.parked_receiver(token));
        receiving.phase = Phase::Receiving;
        loop {
            receiving.sleep(&mut coop, &self.state, &self.receiver_wakes, deadline);
            let state = receiving.state();
            if let Some(value) = state.take() {
                return Ok(value);
            }
            if state.senders == 0 {
                return Err(RecvTimeoutError::Disconnected);
            }
            if deadline.is_some_and(|d| d <= Instant::now()) {
                return Err(RecvTimeoutError::Timeout);
            }
            if state.receiving.is_none() {
                // Handed a value that its rendezvous sender took back as it unwound.
                state.receiving = Some(self.parked_receiver(token));
            }
            coop.again();
        }
    }

    fn parked_receiver(&self, token: Option<WaiterToken>) -> Parked {
        Parked {
            token,
            ticket: 0,
            wakes: self.receiver_wakes.clone(),
        }
    }

    /// `try_recv`: a value if one is queued.
    pub(super) fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut state = self.state.lock();
        match state.take() {
            Some(value) => Ok(value),
            None if state.senders == 0 => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }

    /// A sender was cloned.
    pub(super) fn sender_added(&self) {
        self.state.lock().senders += 1;
    }

    /// A sender was dropped: the last one disconnects a waiting receiver.
    pub(super) fn sender_dropped(&self) {
        let mut state = self.state.lock();
        state.senders -= 1;
        if state.senders == 0 {
            if let Some(receiver) = state.receiving.take() {
                detect::grant_all(&self.meta);
                receiver.wakes.notify_one();
            }
        }
    }

    /// The receiver was dropped: waiting senders fail with their values; queued values are
    /// dropped (after the lock), except a rendezvous value whose sender takes it back.
    pub(super) fn receiver_dropped(&self) {
        let mut state = self.state.lock();
        state.receiver = false;
        let discarded = if state.handing_over.is_some() {
            VecDeque::new()
        } else {
            std::mem::take(&mut state.queue)
        };
        let mut waiting: Vec<Parked> = state.in_line.drain(..).collect();
        waiting.extend(state.handing_over.take());
        if !waiting.is_empty() {
            detect::grant_all(&self.meta);
            for sender in waiting {
                sender.wakes.notify_one();
            }
        }
        drop(state);
        drop(discarded);
    }
}

/// What a blocked operation must undo if it unwinds (a deadlock report) while it holds the
/// lock: it leaves the channel as if it had never come.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Nothing to undo.
    Idle,
    /// The receiver is parked in `receiving` (also cleared on a normal return).
    Receiving,
    /// A sender in line for room: its place, or the room handed to it, goes to the next one.
    InLine(u64),
    /// A rendezvous sender whose value number is this: an untaken value is taken back.
    HandingOver(u64),
}

/// The channel's lock, held by a blocked operation while it is not waiting; undoes the
/// operation's [`Phase`] on drop.
struct Locked<'a, T> {
    state: Option<MutexGuard<'a, State<T>>>,
    phase: Phase,
}

impl<'a, T> Locked<'a, T> {
    fn state(&mut self) -> &mut State<T> {
        self.state
            .as_mut()
            .expect("impasse: the channel is locked between waits")
    }

    /// Sleeps (`CoopWait::sleep`, woken through `wakes` when the detector does not see the
    /// thread) until woken or `deadline`, the channel's lock released meanwhile.
    fn sleep<'b>(
        &mut self,
        coop: &mut CoopWait,
        lock: &'b Mutex<State<T>>,
        wakes: &Condvar,
        deadline: Option<Instant>,
    ) where
        'b: 'a,
    {
        let state = self
            .state
            .take()
            .expect("impasse: the channel is locked between waits");
        self.state = Some(coop.sleep(lock, state, wakes, deadline));
    }
}

impl<T> Drop for Locked<'_, T> {
    fn drop(&mut self) {
        let Some(mut state) = self.state.take() else {
            return;
        };
        let taken_back = match self.phase {
            Phase::Idle => None,
            Phase::Receiving => {
                state.receiving = None;
                None
            }
            Phase::InLine(ticket) => {
                match state.in_line(ticket) {
                    Some(place) => drop(state.in_line.remove(place)),
                    None if state.receiver => {
                        state.reserved -= 1;
                        state.room_freed();
                    }
                    None => {}
                }
                None
            }
            Phase::HandingOver(seq) if state.taken <= seq => {
                state.handing_over = None;
                let value = state.queue.pop_back().map(|(value, _)| value);
                state.room_freed();
                value
            }
            Phase::HandingOver(_) => None,
        };
        drop(state);
        drop(taken_back);
    }
}
