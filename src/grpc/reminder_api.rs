//! ReminderService. Staff reminders are handled in `reminder_rpc.rs`,
//! bookings, book-again SMS and SMS accounting in `booking_rpc.rs`; this file
//! only routes the service's methods to them.
use super::{
    booking_rpc,
    pb::{self, reminder_service_server::ReminderService},
    reminder_rpc,
};
use crate::app::AppState;
use tonic::{Request, Response, Status};

pub struct ReminderApi {
    state: AppState,
}

impl ReminderApi {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl ReminderService for ReminderApi {
    async fn create_reminder_type(
        &self,
        req: Request<pb::CreateReminderTypeRequest>,
    ) -> Result<Response<pb::CreateReminderTypeResponse>, Status> {
        reminder_rpc::create_reminder_type(&self.state, req).await
    }

    async fn list_reminder_types(
        &self,
        req: Request<pb::ListReminderTypesRequest>,
    ) -> Result<Response<pb::ListReminderTypesResponse>, Status> {
        reminder_rpc::list_reminder_types(&self.state, req).await
    }

    async fn delete_reminder_type(
        &self,
        req: Request<pb::DeleteReminderTypeRequest>,
    ) -> Result<Response<pb::DeleteReminderTypeResponse>, Status> {
        reminder_rpc::delete_reminder_type(&self.state, req).await
    }

    async fn create_reminder(
        &self,
        req: Request<pb::CreateReminderRequest>,
    ) -> Result<Response<pb::CreateReminderResponse>, Status> {
        reminder_rpc::create_reminder(&self.state, req).await
    }

    async fn get_reminder(
        &self,
        req: Request<pb::GetReminderRequest>,
    ) -> Result<Response<pb::GetReminderResponse>, Status> {
        reminder_rpc::get_reminder(&self.state, req).await
    }

    async fn list_reminders(
        &self,
        req: Request<pb::ListRemindersRequest>,
    ) -> Result<Response<pb::ListRemindersResponse>, Status> {
        reminder_rpc::list_reminders(&self.state, req).await
    }

    async fn update_reminder(
        &self,
        req: Request<pb::UpdateReminderRequest>,
    ) -> Result<Response<pb::UpdateReminderResponse>, Status> {
        reminder_rpc::update_reminder(&self.state, req).await
    }

    async fn delete_reminder(
        &self,
        req: Request<pb::DeleteReminderRequest>,
    ) -> Result<Response<pb::DeleteReminderResponse>, Status> {
        reminder_rpc::delete_reminder(&self.state, req).await
    }

    async fn preview_occurrences(
        &self,
        req: Request<pb::PreviewOccurrencesRequest>,
    ) -> Result<Response<pb::PreviewOccurrencesResponse>, Status> {
        reminder_rpc::preview_occurrences(&self.state, req).await
    }

    async fn record_booking(
        &self,
        req: Request<pb::RecordBookingRequest>,
    ) -> Result<Response<pb::RecordBookingResponse>, Status> {
        booking_rpc::record_booking(&self.state, req).await
    }

    async fn update_booking(
        &self,
        req: Request<pb::UpdateBookingRequest>,
    ) -> Result<Response<pb::UpdateBookingResponse>, Status> {
        booking_rpc::update_booking(&self.state, req).await
    }

    async fn delete_booking(
        &self,
        req: Request<pb::DeleteBookingRequest>,
    ) -> Result<Response<pb::DeleteBookingResponse>, Status> {
        booking_rpc::delete_booking(&self.state, req).await
    }

    async fn list_bookings(
        &self,
        req: Request<pb::ListBookingsRequest>,
    ) -> Result<Response<pb::ListBookingsResponse>, Status> {
        booking_rpc::list_bookings(&self.state, req).await
    }

    async fn set_book_again_reminder(
        &self,
        req: Request<pb::SetBookAgainReminderRequest>,
    ) -> Result<Response<pb::SetBookAgainReminderResponse>, Status> {
        booking_rpc::set_book_again_reminder(&self.state, req).await
    }

    async fn cancel_book_again_reminder(
        &self,
        req: Request<pb::CancelBookAgainReminderRequest>,
    ) -> Result<Response<pb::CancelBookAgainReminderResponse>, Status> {
        booking_rpc::cancel_book_again_reminder(&self.state, req).await
    }

    async fn list_book_again_reminders(
        &self,
        req: Request<pb::ListBookAgainRemindersRequest>,
    ) -> Result<Response<pb::ListBookAgainRemindersResponse>, Status> {
        booking_rpc::list_book_again_reminders(&self.state, req).await
    }

    async fn report_sms_delivery(
        &self,
        req: Request<pb::ReportSmsDeliveryRequest>,
    ) -> Result<Response<pb::ReportSmsDeliveryResponse>, Status> {
        booking_rpc::report_sms_delivery(&self.state, req).await
    }

    async fn get_sms_usage(
        &self,
        req: Request<pb::GetSmsUsageRequest>,
    ) -> Result<Response<pb::GetSmsUsageResponse>, Status> {
        booking_rpc::get_sms_usage(&self.state, req).await
    }
}
