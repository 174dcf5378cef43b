//! Background delivery of the outbox: one step (`try_execute_task`) that
//! tests drive directly, and a loop that runs it in the service.
pub mod backoff;
mod pace;
pub mod permanent;
pub mod worker;

pub use worker::{ExecutionOutcome, deliver_while_due, run_until_stopped, try_execute_task};
