//! Proposal batching on the leader.
//!
//! openraft 0.9 waits for each log append to be fsynced before it takes the next one, so one
//! client write per entry would cap the store at one write per disk flush. Instead, commands that
//! arrive while earlier ones are being committed wait together and go into the log as one
//! [`Batch`] entry: under load, one fsync carries hundreds of writes; alone, a write still goes
//! out at once.

use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::command::{Batch, Command, Op, Outcome};
use crate::error::Error;
use crate::member::{LeaderAnswer, write_error};
use crate::raft::Raft;

/// Most commands in one group (one log entry, or one forwarded call).
const MAX_COMMANDS: usize = 1024;
/// Most bytes of commands in one group.
const MAX_BYTES: usize = 512 * 1024;
/// Entries being committed at once: one being fsynced while the next queues behind it.
const MAX_IN_FLIGHT: usize = 3;

struct Pending {
    cmd: Command,
    size: usize,
    done: oneshot::Sender<LeaderAnswer>,
}

/// The leader's proposal queue.
pub struct Proposer {
    tx: mpsc::UnboundedSender<Pending>,
}

impl Proposer {
    /// Starts the batching loop for `raft`.
    pub fn start(raft: Raft) -> Proposer {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(raft, rx));
        Proposer { tx }
    }

    /// Proposes `cmd` and waits for the outcome of applying it.
    pub async fn propose(&self, cmd: Command) -> LeaderAnswer {
        let (done, rx) = oneshot::channel();
        let size = prost::Message::encoded_len(&cmd);
        if self.tx.send(Pending { cmd, size, done }).is_err() {
            return failed(Error::Stopped);
        }
        rx.await.unwrap_or_else(|_| failed(Error::Stopped))
    }
}

fn failed(e: Error) -> LeaderAnswer {
    let (k, m) = e.to_wire();
    LeaderAnswer::Failed(k, m)
}

async fn run(raft: Raft, mut rx: mpsc::UnboundedReceiver<Pending>) {
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    while let Some(first) = rx.recv().await {
        // Wait for a free slot before draining, so that the queue fills while the disk works.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let batch = take_group(first, &mut rx, |p| p.size);
        tracing::debug!(commands = batch.len(), "proposing a batch");
        let raft = raft.clone();
        tokio::spawn(async move {
            commit(&raft, batch).await;
            drop(slot);
        });
    }
}

/// `first` and whatever else is queued behind it, up to [`MAX_COMMANDS`] and [`MAX_BYTES`].
pub(crate) fn take_group<T>(
    first: T,
    rx: &mut mpsc::UnboundedReceiver<T>,
    size: impl Fn(&T) -> usize,
) -> Vec<T> {
    let mut bytes = size(&first);
    let mut group = vec![first];
    while group.len() < MAX_COMMANDS && bytes < MAX_BYTES {
        match rx.try_recv() {
            Ok(item) => {
                bytes += size(&item);
                group.push(item);
            }
            Err(_) => break,
        }
    }
    group
}

async fn commit(raft: &Raft, mut batch: Vec<Pending>) {
    if batch.len() == 1 {
        let p = batch.remove(0);
        let answer = match raft.client_write(p.cmd).await {
            Ok(resp) => LeaderAnswer::Reply(resp.data),
            Err(e) => write_error(e),
        };
        let _ = p.done.send(answer);
        return;
    }
    let (commands, waiters): (Vec<Command>, Vec<oneshot::Sender<LeaderAnswer>>) =
        batch.into_iter().map(|p| (p.cmd, p.done)).unzip();
    let entry = Command {
        op: Some(Op::Batch(Batch { commands })),
    };
    match raft.client_write(entry).await {
        Ok(resp) => match resp.data.outcome {
            Some(Outcome::Batch(replies)) if replies.replies.len() == waiters.len() => {
                for (reply, done) in replies.replies.into_iter().zip(waiters) {
                    let _ = done.send(LeaderAnswer::Reply(reply));
                }
            }
            other => {
                let e = Error::Internal(format!("a batch applied to {other:?}"));
                for done in waiters {
                    let _ = done.send(failed(e.clone()));
                }
            }
        },
        Err(e) => {
            let answer = write_error(e);
            for done in waiters {
                let _ = done.send(answer.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_takes_what_is_queued_up_to_the_limits() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        for size in [10, 20, 30] {
            tx.send(size).unwrap();
        }
        assert_eq!(take_group(1, &mut rx, |s| *s), vec![1, 10, 20, 30]);
        // The byte limit closes a group once reached; what is left waits for the next one.
        tx.send(MAX_BYTES).unwrap();
        tx.send(5).unwrap();
        assert_eq!(take_group(1, &mut rx, |s| *s), vec![1, MAX_BYTES]);
        assert_eq!(take_group(2, &mut rx, |s| *s), vec![2, 5]);
        for _ in 0..MAX_COMMANDS + 10 {
            tx.send(0).unwrap();
        }
        assert_eq!(take_group(0, &mut rx, |s| *s).len(), MAX_COMMANDS);
    }
}
