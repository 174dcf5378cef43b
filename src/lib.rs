//! customerhub: keeps a service business's customers informed.
//!
//! The layers, outermost first (see ARCHITECTURE.md):
//! `grpc` (protobuf in and out) → `app` (one function per operation:
//! authorize, validate, run a transaction) → `store` (SeaORM queries) and
//! `delivery`/`mail` (the outbox worker and the mail transport). `domain`
//! holds the types every layer shares and knows neither protobuf nor SeaORM.
pub mod app;
pub mod auth;
pub mod cache;
pub mod cli;
pub mod clock;
pub mod config;
pub mod delivery;
pub mod domain;
pub mod error;
pub mod grpc;
pub mod http;
pub mod jobs;
pub mod live;
pub mod mail;
pub mod metrics;
pub mod notify;
pub mod sms;
pub mod startup;
pub mod store;
pub mod telemetry;
