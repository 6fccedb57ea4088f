//! [`Map`]: the results of [`ThreadPool::map`](super::ThreadPool::map) and
//! [`ThreadPool::map_chunked`](super::ThreadPool::map_chunked), in input order.
//!
//! Every item is submitted at once (as `Executor.map` does); the iterator waits for each
//! result in turn. A chunk is one task that runs its items one after the other, each under its
//! own `catch_unwind`, so a panic costs only its own item.
//!
//! Invariant: the iterator yields exactly one result per input item, in input order.

use super::handle::{Handle, TaskError, TaskHandle};
use super::unwind::{self, Panic};
use super::ThreadPool;
use crate::facade::sync::Arc;
use std::collections::VecDeque;
use std::fmt;
use std::panic::Location;

/// One item's outcome inside a chunk.
type ItemResult<R> = Result<R, Panic>;

/// The results of a parallel map, in input order: each `next` waits for the next item's
/// result. Dropping it early leaves the remaining items running; their results are dropped.
pub struct Map<R> {
    pending: VecDeque<Pending<R>>,
    left: usize,
    /// The map's call site: where its waits are reported.
    at: &'static Location<'static>,
}

enum Pending<R> {
    /// One item's task.
    One(Handle<'static, R>),
    /// A chunk's task and how many items it has.
    Chunk(Handle<'static, Vec<ItemResult<R>>>, usize),
    /// A finished chunk's results, not yet yielded.
    Ready(std::vec::IntoIter<ItemResult<R>>),
    /// A chunk that failed as a whole (cancelled, or the pool shut down): this error for each
    /// of its remaining items.
    Failed(TaskError, usize),
}

/// Submits `f(item)` for every item, one task each.
pub(super) fn each<I, R, F>(
    pool: &ThreadPool,
    items: impl IntoIterator<Item = I>,
    f: F,
    at: &'static Location<'static>,
) -> Map<R>
where
    I: Send + 'static,
    R: Send + 'static,
    F: Fn(I) -> R + Send + Sync + 'static,
{
    let f = Arc::new(f);
    let pending: VecDeque<Pending<R>> = items
        .into_iter()
        .map(|item| {
            let f = Arc::clone(&f);
            Pending::One(pool.submit_at(move || f(item), at).into_inner())
        })
        .collect();
    Map {
        left: pending.len(),
        pending,
        at,
    }
}

/// Submits `f` over `items` in chunks of `chunk_size` (at least 1), one task per chunk.
pub(super) fn chunked<I, R, F>(
    pool: &ThreadPool,
    items: impl IntoIterator<Item = I>,
    chunk_size: usize,
    f: F,
    at: &'static Location<'static>,
) -> Map<R>
where
    I: Send + 'static,
    R: Send + 'static,
    F: Fn(I) -> R + Send + Sync + 'static,
{
    let chunk_size = chunk_size.max(1);
    let f = Arc::new(f);
    let mut pending = VecDeque::new();
    let mut left = 0;
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        let chunk: Vec<I> = items.by_ref().take(chunk_size).collect();
        let len = chunk.len();
        left += len;
        let f = Arc::clone(&f);
        let task: TaskHandle<Vec<ItemResult<R>>> = pool.submit_at(
            move || {
                chunk
                    .into_iter()
                    .map(|item| unwind::halt_unwinding(|| f(item)).map_err(Panic::new))
                    .collect()
            },
            at,
        );
        pending.push_back(Pending::Chunk(task.into_inner(), len));
    }
    Map { pending, left, at }
}

impl<R> Iterator for Map<R> {
    type Item = Result<R, TaskError>;

    #[track_caller]
    fn next(&mut self) -> Option<Result<R, TaskError>> {
        loop {
            match self.pending.pop_front()? {
                Pending::One(task) => {
                    self.left -= 1;
                    return Some(task.result_at(self.at));
                }
                Pending::Chunk(task, len) => match task.result_at(self.at) {
                    Ok(results) => self.pending.push_front(Pending::Ready(results.into_iter())),
                    Err(error) => self.pending.push_front(Pending::Failed(error, len)),
                },
                Pending::Ready(mut results) => {
                    let Some(result) = results.next() else {
                        continue;
                    };
                    self.pending.push_front(Pending::Ready(results));
                    self.left -= 1;
                    return Some(result.map_err(TaskError::Panicked));
                }
                Pending::Failed(error, len) => {
                    self.left -= 1;
                    if len == 1 {
                        return Some(Err(error));
                    }
                    let copy = error.for_another_item();
                    self.pending.push_front(Pending::Failed(error, len - 1));
                    return Some(Err(copy));
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<R> ExactSizeIterator for Map<R> {}

impl<R> fmt::Debug for Map<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Map")
            .field("left", &self.left)
            .finish_non_exhaustive()
    }
}
