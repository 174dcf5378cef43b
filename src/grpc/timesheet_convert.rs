//! Protobuf ⇄ domain conversions of time entries.
use super::{
    convert::{opt_ts, ts},
    pb,
};
use crate::{
    app::timesheet_input::TimeEntryFields,
    domain::{
        format::api_date,
        timesheet::{TimeEntry, TimesheetTotals},
    },
};

pub fn time_entry_fields_in(e: pb::TimeEntry) -> TimeEntryFields {
    TimeEntryFields {
        title: e.title,
        description: e.description,
        performed_on: e.performed_on,
        billed_minutes: e.billed_minutes,
        actual_minutes: e.actual_minutes,
        billable: e.billable,
        notify: e.notify,
    }
}

pub fn time_entry_out(e: TimeEntry) -> pb::TimeEntry {
    pb::TimeEntry {
        id: e.id.to_string(),
        customer_id: e.customer_id.to_string(),
        title: e.title,
        description: e.description,
        performed_on: api_date(e.performed_on),
        billed_minutes: e.billed_minutes,
        actual_minutes: e.actual_minutes,
        billable: Some(e.billable),
        registered_by_staff_user_id: e.registered_by.to_string(),
        notify: e.notify,
        invoice_time: opt_ts(e.invoiced_at),
        create_time: Some(ts(e.created_at)),
        update_time: Some(ts(e.updated_at)),
        etag: e.version.to_string(),
    }
}

/// What a HUB contact sees: no actual time, no staff ids.
pub fn hub_time_entry_out(e: TimeEntry) -> pb::HubTimeEntry {
    pb::HubTimeEntry {
        id: e.id.to_string(),
        title: e.title,
        description: e.description,
        performed_on: api_date(e.performed_on),
        billed_minutes: e.billed_minutes,
        billable: e.billable,
        invoice_time: opt_ts(e.invoiced_at),
        create_time: Some(ts(e.created_at)),
    }
}

pub fn totals_out(t: TimesheetTotals) -> pb::TimesheetTotals {
    pb::TimesheetTotals {
        billable_minutes: t.billable_minutes,
        non_billable_minutes: t.non_billable_minutes,
        invoiced_minutes: t.invoiced_minutes,
        not_invoiced_minutes: t.not_invoiced_minutes,
        entry_count: t.entry_count,
    }
}
