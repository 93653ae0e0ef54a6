//! The façade's fair queue: chat requests wait here until the engine is free. The engine
//! serves one generation at a time, so the order of this queue is the order of service.
//!
//! Fairness is per lane, round robin: each person has a lane (each incognito handle has its
//! own), requests within a lane are served first in, first out, and the lanes take turns —
//! one request from the lane at the front, which then goes to the back if it has more. A
//! person who sends ten requests cannot make another person wait behind all ten.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};

/// Which lane a request waits in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lane {
    /// One person's requests.
    User(String),
    /// One incognito handle's requests.
    Incognito(u64),
}

/// A blocking multi-producer queue with per-lane round robin. Closing it hands back every
/// waiting item and wakes the consumer.
#[derive(Debug)]
pub(crate) struct FairQueue<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
}

#[derive(Debug)]
struct State<T> {
    lanes: VecDeque<(Lane, VecDeque<T>)>,
    closed: bool,
}

impl<T> Default for FairQueue<T> {
    fn default() -> Self {
        Self {
            state: Mutex::new(State {
                lanes: VecDeque::new(),
                closed: false,
            }),
            ready: Condvar::new(),
        }
    }
}

impl<T> FairQueue<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // The state is a plain collection; a panic elsewhere cannot leave it half-changed.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queue `item` in `lane`; hands it back when the queue is closed.
    pub(crate) fn push(&self, lane: Lane, item: T) -> Result<(), T> {
        let mut s = self.lock();
        if s.closed {
            return Err(item);
        }
        match s.lanes.iter_mut().find(|(l, _)| *l == lane) {
            Some((_, items)) => items.push_back(item),
            None => s.lanes.push_back((lane, VecDeque::from([item]))),
        }
        drop(s);
        self.ready.notify_one();
        Ok(())
    }

    /// The next item by round robin, without waiting.
    #[cfg(test)]
    pub(crate) fn try_pop(&self) -> Option<T> {
        Self::take_next(&mut self.lock())
    }

    /// The next item by round robin, waiting for one; `None` once the queue is closed.
    pub(crate) fn pop_blocking(&self) -> Option<T> {
        let mut s = self.lock();
        loop {
            if s.closed {
                return None;
            }
            if let Some(item) = Self::take_next(&mut s) {
                return Some(item);
            }
            s = self
                .ready
                .wait(s)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    fn take_next(s: &mut State<T>) -> Option<T> {
        let (lane, mut items) = s.lanes.pop_front()?;
        let item = items.pop_front();
        if !items.is_empty() {
            s.lanes.push_back((lane, items));
        }
        item
    }

    /// Whether [`FairQueue::close`] was called.
    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Items waiting.
    pub(crate) fn len(&self) -> usize {
        self.lock().lanes.iter().map(|(_, items)| items.len()).sum()
    }

    /// Close the queue: later pushes are refused, the consumer stops, and every waiting item
    /// is handed back (in service order) so that its owner can be told.
    pub(crate) fn close(&self) -> Vec<T> {
        let mut s = self.lock();
        s.closed = true;
        let mut waiting = Vec::new();
        while let Some(item) = Self::take_next(&mut s) {
            waiting.push(item);
        }
        drop(s);
        self.ready.notify_all();
        waiting
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> Lane {
        Lane::User(name.to_owned())
    }

    #[test]
    fn lanes_take_turns_and_each_lane_is_first_in_first_out() {
        let q = FairQueue::default();
        for i in 0..3 {
            q.push(user("ana"), format!("ana{i}")).expect("open");
        }
        q.push(user("ben"), "ben0".to_owned()).expect("open");
        q.push(Lane::Incognito(1), "inc0".to_owned()).expect("open");
        q.push(user("ben"), "ben1".to_owned()).expect("open");
        assert_eq!(q.len(), 6);
        let order: Vec<String> = std::iter::from_fn(|| q.try_pop()).collect();
        assert_eq!(order, ["ana0", "ben0", "inc0", "ana1", "ben1", "ana2"]);
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn closing_hands_back_the_waiting_items_and_refuses_new_ones() {
        let q = std::sync::Arc::new(FairQueue::default());
        let consumer = {
            let q = std::sync::Arc::clone(&q);
            std::thread::spawn(move || {
                let mut served = Vec::new();
                while let Some(item) = q.pop_blocking() {
                    served.push(item);
                    if served.len() == 1 {
                        break;
                    }
                }
                served.extend(q.pop_blocking());
                served
            })
        };
        q.push(user("ana"), 1).expect("open");
        // Wait until the consumer took the first item, then queue more and close.
        while q.len() > 0 {
            std::thread::yield_now();
        }
        q.push(user("ana"), 2).expect("open");
        q.push(user("ben"), 3).expect("open");
        assert!(!q.is_closed());
        let waiting = q.close();
        assert!(q.is_closed());
        assert_eq!(q.push(user("ana"), 4), Err(4));
        let served = consumer.join().expect("consumer");
        assert_eq!(served[0], 1);
        // The consumer's second pop either took item 2 before the close or saw the close.
        let mut all: Vec<i32> = served.into_iter().chain(waiting).collect();
        all.sort_unstable();
        assert_eq!(all, [1, 2, 3]);
    }
}
