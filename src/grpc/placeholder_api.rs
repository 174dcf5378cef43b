//! Services the contract declares whose RPCs arrive with later issues. They
//! are served already, so reflection lists them and clients can be generated.
use super::pb::timesheet_service_server::TimesheetService;

pub struct TimesheetApi;

#[tonic::async_trait]
impl TimesheetService for TimesheetApi {}
