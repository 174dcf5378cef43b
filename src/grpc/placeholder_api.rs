//! Services the contract declares whose RPCs arrive with later issues. They
//! are served already, so reflection lists them and clients can be generated.
use super::pb::{punch_card_service_server::PunchCardService, reminder_service_server::ReminderService};

pub struct PunchCardApi;
pub struct ReminderApi;

#[tonic::async_trait]
impl PunchCardService for PunchCardApi {}
#[tonic::async_trait]
impl ReminderService for ReminderApi {}
