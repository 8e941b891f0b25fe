//! Runs the session probe's schedule ([`Schedule`], read with the config):
//! tokio-cron-scheduler marks the probe due from an interval or a cron
//! expression; `off` runs nothing. Its offset for cron expressions is taken
//! when the server starts, so a DST change shifts them by an hour until the
//! next restart.

use std::sync::Arc;

use tokio_cron_scheduler::{Job, JobScheduler};

pub use crate::config::Schedule;

fn cron_job(
    expr: &str,
    on_due: Arc<dyn Fn() + Send + Sync>,
) -> Result<Job, tokio_cron_scheduler::JobSchedulerError> {
    Job::new_async_tz(expr, chrono::Local, move |_id, _sched| {
        let on_due = on_due.clone();
        Box::pin(async move { on_due() })
    })
}

/// A running schedule; [`Scheduled::shutdown`] stops it.
pub struct Scheduled {
    scheduler: JobScheduler,
}

impl Scheduled {
    pub async fn shutdown(mut self) {
        if let Err(e) = self.scheduler.shutdown().await {
            tracing::warn!(error = %e, "the probe scheduler did not shut down cleanly");
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot start the session-check scheduler: {0}")]
pub struct ScheduleError(#[source] tokio_cron_scheduler::JobSchedulerError);

/// Starts the schedule; `Ok(None)` when it is off.
pub async fn start(
    schedule: &Schedule,
    on_due: Arc<dyn Fn() + Send + Sync>,
) -> Result<Option<Scheduled>, ScheduleError> {
    let err = ScheduleError;
    let job = match schedule {
        Schedule::Off => return Ok(None),
        Schedule::Every(every) => Job::new_repeated_async(*every, move |_id, _sched| {
            let on_due = on_due.clone();
            Box::pin(async move { on_due() })
        })
        .map_err(err)?,
        Schedule::Cron(expr) => cron_job(expr, on_due).map_err(err)?,
    };
    let scheduler = JobScheduler::new().await.map_err(err)?;
    scheduler.add(job).await.map_err(err)?;
    scheduler.start().await.map_err(err)?;
    tracing::info!(%schedule, "session checks scheduled");
    Ok(Some(Scheduled { scheduler }))
}
