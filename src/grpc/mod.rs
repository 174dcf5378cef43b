//! The gRPC edge, and the only code that knows protobuf. One file per proto
//! service (`*_api.rs`): a handler takes the caller from the request, turns
//! the message into app input, calls `app`, and converts the result back.
//! Errors become a `Status` in one place: `status.rs`.
pub mod booking_convert;
pub mod booking_rpc;
pub mod caller;
pub mod convert;
pub mod customer_api;
pub mod decode_errors;
pub mod hub_api;
pub mod notification_api;
pub mod notification_convert;
pub mod punch_card_api;
pub mod reminder_api;
pub mod reminder_rpc;
pub mod status;
pub mod timesheet_api;
pub mod timesheet_convert;
pub mod workspace_api;

#[allow(clippy::all, missing_docs)]
pub mod pb {
    tonic::include_proto!("customerhub.v1");

    /// Served by reflection so grpcurl can list and call every method.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("customerhub_descriptor");
}
