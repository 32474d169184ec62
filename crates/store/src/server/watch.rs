//! The Watch service: many watchers on one stream, history replay from any uncompacted revision,
//! filters, prev_kv, progress notifications and cancellation, as etcd serves them.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;

use etcd_api::etcdserverpb::watch_server::Watch;
use etcd_api::etcdserverpb::{
    WatchCreateRequest, WatchRequest, WatchResponse, watch_create_request, watch_request,
};
use etcd_api::mvccpb::{Event, event::EventType};
use futures::Stream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::member::Member;
use crate::mvcc::KeyRange;
use crate::watch::{WatchBatch, WatcherId};

/// The Watch service of one member.
pub struct WatchService {
    pub member: Arc<Member>,
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<WatchResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Watch for WatchService {
    type WatchStream = WatchStream;

    async fn watch(
        &self,
        req: Request<Streaming<WatchRequest>>,
    ) -> Result<Response<WatchStream>, Status> {
        let inbound = req.into_inner();
        let (out, rx) = mpsc::channel(256);
        tokio::spawn(WatchSession::new(self.member.clone(), out).run(inbound));
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// What the stream remembers of one watcher.
struct Watcher {
    hub_id: WatcherId,
    start_revision: i64,
    no_put: bool,
    no_delete: bool,
    prev_kv: bool,
    progress_notify: bool,
    /// Whether events went out since the last progress notification.
    active: bool,
}

/// One client stream and its watchers.
struct WatchSession {
    member: Arc<Member>,
    out: mpsc::Sender<Result<WatchResponse, Status>>,
    events_tx: mpsc::UnboundedSender<WatchBatch>,
    events_rx: mpsc::UnboundedReceiver<WatchBatch>,
    watchers: HashMap<i64, Watcher>,
    next_id: i64,
}

impl WatchSession {
    fn new(member: Arc<Member>, out: mpsc::Sender<Result<WatchResponse, Status>>) -> Self {
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        WatchSession {
            member,
            out,
            events_tx,
            events_rx,
            watchers: HashMap::new(),
            next_id: 0,
        }
    }

    async fn run(mut self, mut inbound: Streaming<WatchRequest>) {
        let mut progress = tokio::time::interval(self.member.config.progress_notify_interval);
        progress.tick().await;
        let mut resets = self.member.shared.reset_tx.subscribe();
        let mut stop = self.member.stop.subscribe();
        loop {
            let alive = tokio::select! {
                msg = inbound.message() => match msg {
                    Ok(Some(req)) => self.handle(req).await,
                    _ => false,
                },
                Some(batch) = self.events_rx.recv() => self.deliver(batch).await,
                _ = progress.tick() => self.notify_progress().await,
                Ok(()) = resets.changed() => self.cancel_all("etcdserver: mvcc: watcher reset after a snapshot; watch again").await,
                _ = stop.changed() => false,
            };
            if !alive {
                break;
            }
        }
        let mut applied = self.member.shared.lock();
        for w in self.watchers.values() {
            applied.hub.remove(w.hub_id);
        }
    }

    async fn send(&self, resp: WatchResponse) -> bool {
        self.out.send(Ok(resp)).await.is_ok()
    }

    async fn handle(&mut self, req: WatchRequest) -> bool {
        match req.request_union {
            Some(watch_request::RequestUnion::CreateRequest(c)) => self.create(c).await,
            Some(watch_request::RequestUnion::CancelRequest(c)) => {
                let Some(w) = self.watchers.remove(&c.watch_id) else {
                    return true;
                };
                self.member.shared.lock().hub.remove(w.hub_id);
                let header = self.member.header(self.member.revision());
                self.send(WatchResponse {
                    header,
                    watch_id: c.watch_id,
                    canceled: true,
                    ..Default::default()
                })
                .await
            }
            Some(watch_request::RequestUnion::ProgressRequest(_)) => {
                // Not tied to one watcher: etcd answers with watch ID -1.
                let header = self.member.header(self.member.revision());
                self.send(WatchResponse {
                    header,
                    watch_id: -1,
                    ..Default::default()
                })
                .await
            }
            None => true,
        }
    }

    async fn create(&mut self, c: WatchCreateRequest) -> bool {
        let id = if c.watch_id != 0 {
            c.watch_id
        } else {
            while self.watchers.contains_key(&self.next_id) {
                self.next_id += 1;
            }
            self.next_id += 1;
            self.next_id - 1
        };
        if self.watchers.contains_key(&id) {
            let header = self.member.header(self.member.revision());
            return self
                .send(WatchResponse {
                    header,
                    watch_id: -1,
                    created: true,
                    canceled: true,
                    cancel_reason: "mvcc: duplicate watch ID provided on the WatchStream".into(),
                    ..Default::default()
                })
                .await;
        }
        let range = KeyRange::new(&c.key, &c.range_end);
        let (revision, compacted, hub_id) = {
            let mut applied = self.member.shared.lock();
            let revision = applied.state.kv.revision();
            let compacted = applied.state.kv.compacted_revision();
            if c.start_revision != 0 && c.start_revision < compacted {
                (revision, Some(compacted), None)
            } else {
                // Replay what happened since start_revision, then follow; both under the lock
                // that apply takes, so nothing falls between them.
                if c.start_revision != 0 && c.start_revision <= revision {
                    let history = applied.state.kv.events_after(c.start_revision - 1, &range);
                    if !history.is_empty() {
                        let _ = self.events_tx.send(WatchBatch {
                            tag: id,
                            events: history,
                        });
                    }
                }
                let hub_id = applied.hub.add(range, id, self.events_tx.clone());
                (revision, None, Some(hub_id))
            }
        };
        let header = self.member.header(revision);
        if !self
            .send(WatchResponse {
                header,
                watch_id: id,
                created: true,
                ..Default::default()
            })
            .await
        {
            return false;
        }
        if let Some(compact_revision) = compacted {
            return self
                .send(WatchResponse {
                    header,
                    watch_id: id,
                    compact_revision,
                    canceled: true,
                    ..Default::default()
                })
                .await;
        }
        let filters = &c.filters;
        let has = |f: watch_create_request::FilterType| filters.contains(&(f as i32));
        self.watchers.insert(
            id,
            Watcher {
                hub_id: hub_id.expect("registered"),
                start_revision: c.start_revision,
                no_put: has(watch_create_request::FilterType::Noput),
                no_delete: has(watch_create_request::FilterType::Nodelete),
                prev_kv: c.prev_kv,
                progress_notify: c.progress_notify,
                active: false,
            },
        );
        true
    }

    async fn deliver(&mut self, batch: WatchBatch) -> bool {
        let Some(w) = self.watchers.get_mut(&batch.tag) else {
            return true;
        };
        let events: Vec<Event> = batch
            .events
            .into_iter()
            .filter(|e| {
                e.kv.as_ref()
                    .is_some_and(|kv| kv.mod_revision >= w.start_revision)
            })
            .filter(|e| {
                let put = e.r#type == EventType::Put as i32;
                !(put && w.no_put || !put && w.no_delete)
            })
            .map(|mut e| {
                if !w.prev_kv {
                    e.prev_kv = None;
                }
                e
            })
            .collect();
        let Some(last) = events
            .last()
            .and_then(|e| e.kv.as_ref())
            .map(|kv| kv.mod_revision)
        else {
            return true;
        };
        w.active = true;
        let header = self.member.header(last);
        self.send(WatchResponse {
            header,
            watch_id: batch.tag,
            events,
            ..Default::default()
        })
        .await
    }

    async fn notify_progress(&mut self) -> bool {
        let revision = self.member.revision();
        let mut due = Vec::new();
        for (id, w) in self.watchers.iter_mut() {
            if w.progress_notify && !w.active {
                due.push(*id);
            }
            w.active = false;
        }
        for id in due {
            if !self
                .send(WatchResponse {
                    header: self.member.header(revision),
                    watch_id: id,
                    ..Default::default()
                })
                .await
            {
                return false;
            }
        }
        true
    }

    async fn cancel_all(&mut self, reason: &str) -> bool {
        let ids: Vec<i64> = self.watchers.keys().copied().collect();
        for id in ids {
            self.watchers.remove(&id);
            let header = self.member.header(self.member.revision());
            let resp = WatchResponse {
                header,
                watch_id: id,
                canceled: true,
                cancel_reason: reason.into(),
                ..Default::default()
            };
            if !self.send(resp).await {
                return false;
            }
        }
        true
    }
}
