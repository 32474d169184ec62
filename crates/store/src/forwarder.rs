//! Proposal forwarding: the commands a member receives travel to the leader in groups.
//!
//! Two of three clients usually talk to a follower. Sending each of their writes to the leader
//! as its own call would cost one peer RPC per write; instead the commands that arrive while
//! earlier ones are on their way go together in one call, and the leader's [`Proposer`] turns
//! them into one log entry.
//!
//! [`Proposer`]: crate::proposer::Proposer

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::command::Command;
use crate::error::{Error, Result};
use crate::member::{LeaderAnswer, LeaderCall, Member};
use crate::proposer::take_group;

/// Calls to the leader in flight at once.
const MAX_IN_FLIGHT: usize = 4;

/// A command waiting to reach the leader.
pub struct Pending {
    cmd: Command,
    size: usize,
    deadline: Instant,
    done: oneshot::Sender<Result<LeaderAnswer>>,
}

/// The queue of commands on their way to the leader.
pub struct Forwarder {
    tx: mpsc::UnboundedSender<Pending>,
}

impl Forwarder {
    /// A forwarder and the receiving end its loop ([`run`]) drains.
    pub fn new() -> (Forwarder, mpsc::UnboundedReceiver<Pending>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Forwarder { tx }, rx)
    }

    /// Sends `cmd` to the leader and waits for the outcome of applying it.
    pub async fn propose(&self, cmd: Command, deadline: Instant) -> Result<LeaderAnswer> {
        let (done, rx) = oneshot::channel();
        let size = prost::Message::encoded_len(&cmd);
        self.tx
            .send(Pending {
                cmd,
                size,
                deadline,
                done,
            })
            .map_err(|_| Error::Stopped)?;
        rx.await.map_err(|_| Error::Stopped)?
    }
}

/// Drains the queue until the member stops.
pub async fn run(member: Arc<Member>, mut rx: mpsc::UnboundedReceiver<Pending>) {
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut stop = member.stop.subscribe();
    loop {
        let first = tokio::select! {
            p = rx.recv() => match p { Some(p) => p, None => return },
            _ = stop.wait_for(|s| *s) => return,
        };
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let group = take_group(first, &mut rx, |p| p.size);
        let member = member.clone();
        tokio::spawn(async move {
            send(&member, group).await;
            drop(slot);
        });
    }
}

async fn send(member: &Member, group: Vec<Pending>) {
    // The commands stay in the queue entries too: one that meets a leader change goes round again.
    let commands: Vec<Command> = group.iter().map(|p| p.cmd.clone()).collect();
    let answers = match member.call_leader(LeaderCall::ProposeMany(commands)).await {
        Ok(LeaderAnswer::Many(answers)) if answers.len() == group.len() => answers,
        Ok(other) => {
            let e = Error::Internal(format!(
                "unexpected answer to forwarded proposals: {other:?}"
            ));
            for p in group {
                let _ = p.done.send(Err(e.clone()));
            }
            return;
        }
        Err(e) => {
            for p in group {
                let _ = p.done.send(Err(e.clone()));
            }
            return;
        }
    };
    for (p, answer) in group.into_iter().zip(answers) {
        match answer {
            // Leadership moved before this command was appended: nothing was written, so it
            // goes round again (to the new leader) until its deadline.
            LeaderAnswer::NotLeader if Instant::now() < p.deadline => {
                if let Err(mpsc::error::SendError(p)) = member.forwarder.tx.send(p) {
                    let _ = p.done.send(Err(Error::Stopped));
                }
            }
            LeaderAnswer::NotLeader => {
                let _ = p.done.send(Err(Error::Timeout));
            }
            answer => {
                let _ = p.done.send(Ok(answer));
            }
        }
    }
}
