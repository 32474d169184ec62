//! The VIP listener's life: bound while this agent leads, dropped as soon as it does not.

use std::io::ErrorKind;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::balancer::Balancer;
use crate::stopped;

/// Follows `leader`: binds the VIP when it turns true and serves until it turns false or `stop`
/// fires. A bind that fails is retried every `retry_period` while leading; the usual cause is the
/// previous holder's listener, still open until that agent notices it lost the Lease.
pub(crate) async fn run(
    balancer: Balancer,
    mut leader: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
    retry_period: Duration,
) {
    let vip = balancer.vip();
    loop {
        // Biased: when both are ready, as after a stop while leading, stopping wins; otherwise a
        // random pick could bind the VIP again.
        tokio::select! {
            biased;
            () = stopped(&mut stop) => return,
            led = leader.wait_for(|leading| *leading) => if led.is_err() { return },
        }
        let mut logged = false;
        let listener = loop {
            match TcpListener::bind(vip).await {
                Ok(listener) => break Some(listener),
                Err(e) if !logged => {
                    logged = true;
                    if e.kind() == ErrorKind::AddrInUse {
                        warn!("VIP [{vip}] is still in use, retrying every {retry_period:?}");
                    } else {
                        error!("cannot bind VIP [{vip}], retrying every {retry_period:?}: {e}");
                    }
                }
                Err(_) => {}
            }
            tokio::select! {
                biased;
                () = stopped(&mut stop) => return,
                _ = leader.wait_for(|leading| !*leading) => break None,
                () = tokio::time::sleep(retry_period) => {}
            }
        };
        let Some(listener) = listener else {
            continue;
        };
        info!("Starting load balancer on VIP [{vip}]");
        let mut following = leader.clone();
        let mut stopping = stop.clone();
        balancer
            .serve(listener, async {
                tokio::select! {
                    () = stopped(&mut stopping) => {}
                    _ = following.wait_for(|leading| !*leading) => {}
                }
            })
            .await;
        info!("Stopped load balancer on VIP [{vip}]");
        if *stop.borrow() {
            return;
        }
    }
}
