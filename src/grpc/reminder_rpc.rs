//! Staff reminders and their types (ReminderService).
use super::pb;
use crate::app::AppState;
use tonic::{Request, Response, Status};

pub async fn create_reminder_type(
    _state: &AppState,
    _req: Request<pb::CreateReminderTypeRequest>,
) -> Result<Response<pb::CreateReminderTypeResponse>, Status> {
    Err(Status::unimplemented("create_reminder_type is being built"))
}

pub async fn list_reminder_types(
    _state: &AppState,
    _req: Request<pb::ListReminderTypesRequest>,
) -> Result<Response<pb::ListReminderTypesResponse>, Status> {
    Err(Status::unimplemented("list_reminder_types is being built"))
}

pub async fn delete_reminder_type(
    _state: &AppState,
    _req: Request<pb::DeleteReminderTypeRequest>,
) -> Result<Response<pb::DeleteReminderTypeResponse>, Status> {
    Err(Status::unimplemented("delete_reminder_type is being built"))
}

pub async fn create_reminder(
    _state: &AppState,
    _req: Request<pb::CreateReminderRequest>,
) -> Result<Response<pb::CreateReminderResponse>, Status> {
    Err(Status::unimplemented("create_reminder is being built"))
}

pub async fn get_reminder(
    _state: &AppState,
    _req: Request<pb::GetReminderRequest>,
) -> Result<Response<pb::GetReminderResponse>, Status> {
    Err(Status::unimplemented("get_reminder is being built"))
}

pub async fn list_reminders(
    _state: &AppState,
    _req: Request<pb::ListRemindersRequest>,
) -> Result<Response<pb::ListRemindersResponse>, Status> {
    Err(Status::unimplemented("list_reminders is being built"))
}

pub async fn update_reminder(
    _state: &AppState,
    _req: Request<pb::UpdateReminderRequest>,
) -> Result<Response<pb::UpdateReminderResponse>, Status> {
    Err(Status::unimplemented("update_reminder is being built"))
}

pub async fn delete_reminder(
    _state: &AppState,
    _req: Request<pb::DeleteReminderRequest>,
) -> Result<Response<pb::DeleteReminderResponse>, Status> {
    Err(Status::unimplemented("delete_reminder is being built"))
}

pub async fn preview_occurrences(
    _state: &AppState,
    _req: Request<pb::PreviewOccurrencesRequest>,
) -> Result<Response<pb::PreviewOccurrencesResponse>, Status> {
    Err(Status::unimplemented("preview_occurrences is being built"))
}
