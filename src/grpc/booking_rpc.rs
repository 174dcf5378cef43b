//! Bookings, book-again reminders and SMS accounting (ReminderService).
use super::pb;
use crate::app::AppState;
use tonic::{Request, Response, Status};

pub async fn record_booking(
    _state: &AppState,
    _req: Request<pb::RecordBookingRequest>,
) -> Result<Response<pb::RecordBookingResponse>, Status> {
    Err(Status::unimplemented("record_booking is being built"))
}

pub async fn update_booking(
    _state: &AppState,
    _req: Request<pb::UpdateBookingRequest>,
) -> Result<Response<pb::UpdateBookingResponse>, Status> {
    Err(Status::unimplemented("update_booking is being built"))
}

pub async fn delete_booking(
    _state: &AppState,
    _req: Request<pb::DeleteBookingRequest>,
) -> Result<Response<pb::DeleteBookingResponse>, Status> {
    Err(Status::unimplemented("delete_booking is being built"))
}

pub async fn list_bookings(
    _state: &AppState,
    _req: Request<pb::ListBookingsRequest>,
) -> Result<Response<pb::ListBookingsResponse>, Status> {
    Err(Status::unimplemented("list_bookings is being built"))
}

pub async fn set_book_again_reminder(
    _state: &AppState,
    _req: Request<pb::SetBookAgainReminderRequest>,
) -> Result<Response<pb::SetBookAgainReminderResponse>, Status> {
    Err(Status::unimplemented("set_book_again_reminder is being built"))
}

pub async fn cancel_book_again_reminder(
    _state: &AppState,
    _req: Request<pb::CancelBookAgainReminderRequest>,
) -> Result<Response<pb::CancelBookAgainReminderResponse>, Status> {
    Err(Status::unimplemented("cancel_book_again_reminder is being built"))
}

pub async fn list_book_again_reminders(
    _state: &AppState,
    _req: Request<pb::ListBookAgainRemindersRequest>,
) -> Result<Response<pb::ListBookAgainRemindersResponse>, Status> {
    Err(Status::unimplemented("list_book_again_reminders is being built"))
}

pub async fn report_sms_delivery(
    _state: &AppState,
    _req: Request<pb::ReportSmsDeliveryRequest>,
) -> Result<Response<pb::ReportSmsDeliveryResponse>, Status> {
    Err(Status::unimplemented("report_sms_delivery is being built"))
}

pub async fn get_sms_usage(
    _state: &AppState,
    _req: Request<pb::GetSmsUsageRequest>,
) -> Result<Response<pb::GetSmsUsageResponse>, Status> {
    Err(Status::unimplemented("get_sms_usage is being built"))
}
