//! Schema migrations, the same on SQLite and PostgreSQL. One file per change,
//! named `mYYYYMMDD_NNNNNN_verb_table.rs`, each with `up` and `down`.
pub use sea_orm_migration::prelude::*;

mod m20261125_000001_create_workspaces;
mod m20261125_000002_create_staff_users;
mod m20261125_000003_create_customers;
mod m20261125_000004_create_contacts;
mod m20261125_000005_create_idempotency_keys;
mod m20261125_000006_create_notifications;
mod m20261125_000007_create_notification_tables;
mod m20261125_000008_create_punch_cards;
mod m20261125_000009_create_time_entries;
mod m20261125_000010_create_reminders;
mod m20261125_000011_create_bookings;
mod m20261125_000012_create_privacy_tables;
mod m20261201_000013_tune_notifications;
mod m20261202_000014_add_request_hash_to_idempotency_keys;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_create_workspaces::Migration),
            Box::new(m20261125_000002_create_staff_users::Migration),
            Box::new(m20261125_000003_create_customers::Migration),
            Box::new(m20261125_000004_create_contacts::Migration),
            Box::new(m20261125_000005_create_idempotency_keys::Migration),
            Box::new(m20261125_000006_create_notifications::Migration),
            Box::new(m20261125_000007_create_notification_tables::Migration),
            Box::new(m20261125_000008_create_punch_cards::Migration),
            Box::new(m20261125_000009_create_time_entries::Migration),
            Box::new(m20261125_000010_create_reminders::Migration),
            Box::new(m20261125_000011_create_bookings::Migration),
            Box::new(m20261125_000012_create_privacy_tables::Migration),
            Box::new(m20261201_000013_tune_notifications::Migration),
            Box::new(m20261202_000014_add_request_hash_to_idempotency_keys::Migration),
        ]
    }
}

/// Ids are UUIDv7 text: portable across both databases and sortable by creation.
pub(crate) fn id(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).string_len(36).not_null().primary_key().take()
}

/// A reference to another table's id.
pub(crate) fn reference(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).string_len(36).not_null().take()
}

pub(crate) fn reference_null(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).string_len(36).null().take()
}

pub(crate) fn fk(
    from_table: &'static str,
    from_col: &'static str,
    to_table: &'static str,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{from_table}_{from_col}"))
        .from(from_table, from_col)
        .to(to_table, "id")
        .on_delete(on_delete)
        .take()
}

pub(crate) fn index(table: &'static str, name: &str, cols: &[&'static str]) -> IndexCreateStatement {
    let mut stmt = Index::create().name(name).table(table).take();
    for c in cols {
        stmt.col(*c);
    }
    stmt
}
