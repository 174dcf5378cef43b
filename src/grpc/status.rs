//! The one mapping from `AppError` to a gRPC `Status`, with google.rpc
//! details (BadRequest, PreconditionFailure, ResourceInfo) a client can decode.
use crate::error::AppError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

impl From<AppError> for Status {
    fn from(e: AppError) -> Self {
        match e {
            AppError::InvalidArgument(v) => {
                let mut d = ErrorDetails::new();
                for f in v.items() {
                    d.add_bad_request_violation(f.field.clone(), f.description.clone());
                }
                let message = AppError::InvalidArgument(v).to_string();
                Status::with_error_details(Code::InvalidArgument, message, d)
            }
            AppError::NotFound { resource, id } => {
                let d = ErrorDetails::with_resource_info(resource, id.clone(), "", "not found");
                Status::with_error_details(Code::NotFound, format!("{resource} {id} not found"), d)
            }
            AppError::AlreadyExists { resource, description } => {
                let d = ErrorDetails::with_resource_info(resource, "", "", description.clone());
                Status::with_error_details(Code::AlreadyExists, description, d)
            }
            AppError::FailedPrecondition(items) => {
                let mut d = ErrorDetails::new();
                for p in &items {
                    d.add_precondition_failure_violation(p.kind, p.subject.clone(), p.description.clone());
                }
                let message = AppError::FailedPrecondition(items).to_string();
                Status::with_error_details(Code::FailedPrecondition, message, d)
            }
            AppError::PermissionDenied(m) => Status::permission_denied(m),
            AppError::Unauthenticated(m) => Status::unauthenticated(m),
            AppError::Aborted(m) => Status::aborted(m),
            AppError::ResourceExhausted(m) => Status::resource_exhausted(m),
            AppError::Unavailable(m) => {
                tracing::warn!(error = %m, "database unavailable");
                Status::unavailable("the service cannot reach its database; retry shortly")
            }
            AppError::Unexpected(e) => {
                // The details stay in the log; the caller gets no internals.
                tracing::error!(error = ?e, "unexpected error");
                Status::internal("internal error")
            }
        }
    }
}
