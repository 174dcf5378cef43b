//! One integration-test binary: every RPC through a real gRPC client against
//! the real server, on SQLite and on PostgreSQL.
#[path = "../support/mod.rs"]
mod support;

mod access;
mod bookings;
mod credentials;
mod customer_cache;
mod customers;
mod fuzz;
mod grpc_web;
mod hub_session_cache;
mod import;
mod isolation;
mod limits;
mod live;
mod notifications;
mod operations;
mod ops;
mod outages;
mod punch_cards;
mod raw_rpc;
mod registration_batches;
mod reminders;
mod replicas;
mod timesheets;
mod welcome_and_hub;
mod workspace;
