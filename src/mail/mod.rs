//! E-mail: the templates that write them and the transport that sends them.
pub mod templates;
pub mod transport;

pub use templates::Templates;
pub use transport::{Mailer, OutgoingMail};
