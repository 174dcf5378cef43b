//! Types every layer shares. Nothing here knows protobuf or SeaORM: values
//! are parsed once at the edge ("parse, don't validate") and trusted after.
pub mod booking;
pub mod caller;
pub mod contact;
pub mod customer;
pub mod format;
pub mod id;
pub mod inbox;
pub mod notification;
pub mod page;
pub mod punch_card;
pub mod recurrence;
pub mod reminder;
pub mod timesheet;
pub mod values;
pub mod workspace;

pub use caller::{Caller, HubPrincipal, Role, StaffPrincipal};
pub use id::Id;
pub use values::*;
