use super::{
    caller::staff,
    convert,
    pb::{self, timesheet_service_server::TimesheetService},
    timesheet_convert::{time_entry_fields_in, time_entry_out, totals_out},
};
use crate::{
    app::{
        self, AppState,
        timesheets::{CreateTimeEntry, ListTimeEntries, UpdateTimeEntry},
    },
    domain::page::PageRequest,
    error::AppError,
};
use tonic::{Request, Response, Status};

pub struct TimesheetApi {
    state: AppState,
}

impl TimesheetApi {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl TimesheetService for TimesheetApi {
    async fn create_time_entry(
        &self,
        req: Request<pb::CreateTimeEntryRequest>,
    ) -> Result<Response<pb::CreateTimeEntryResponse>, Status> {
        let caller = staff(&req)?;
        let r = req.into_inner();
        let key = super::convert::request_key(&r.request_id, &r);
        let entry = r.time_entry.ok_or_else(|| AppError::invalid("time_entry", "is required"))?;
        let created = app::timesheets::create(
            &self.state,
            &caller,
            CreateTimeEntry { customer_id: r.customer_id, fields: time_entry_fields_in(entry), request: key },
        )
        .await?;
        Ok(Response::new(pb::CreateTimeEntryResponse { time_entry: Some(time_entry_out(created)) }))
    }

    async fn get_time_entry(
        &self,
        req: Request<pb::GetTimeEntryRequest>,
    ) -> Result<Response<pb::GetTimeEntryResponse>, Status> {
        let caller = staff(&req)?;
        let e = app::timesheets::get(&self.state, &caller, &req.get_ref().time_entry_id).await?;
        Ok(Response::new(pb::GetTimeEntryResponse { time_entry: Some(time_entry_out(e)) }))
    }

    async fn list_time_entries(
        &self,
        req: Request<pb::ListTimeEntriesRequest>,
    ) -> Result<Response<pb::ListTimeEntriesResponse>, Status> {
        let caller = staff(&req)?;
        let r = req.into_inner();
        let page = PageRequest::parse(r.page_size, &r.page_token)?;
        let page = app::timesheets::list(
            &self.state,
            &caller,
            ListTimeEntries {
                customer_id: r.customer_id,
                from: r.from,
                to: r.to,
                billable: r.billable,
                invoiced: r.invoiced,
            },
            page,
        )
        .await?;
        Ok(Response::new(pb::ListTimeEntriesResponse {
            time_entries: page.items.into_iter().map(time_entry_out).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn update_time_entry(
        &self,
        req: Request<pb::UpdateTimeEntryRequest>,
    ) -> Result<Response<pb::UpdateTimeEntryResponse>, Status> {
        let caller = staff(&req)?;
        let r = req.into_inner();
        let e = r.time_entry.ok_or_else(|| AppError::invalid("time_entry", "is required"))?;
        let etag = convert::etag("time_entry.etag", &e.etag)?;
        let id = e.id.clone();
        let updated = app::timesheets::update(
            &self.state,
            &caller,
            UpdateTimeEntry { id, fields: time_entry_fields_in(e), mask: convert::mask(r.update_mask), etag },
        )
        .await?;
        Ok(Response::new(pb::UpdateTimeEntryResponse { time_entry: Some(time_entry_out(updated)) }))
    }

    async fn delete_time_entry(
        &self,
        req: Request<pb::DeleteTimeEntryRequest>,
    ) -> Result<Response<pb::DeleteTimeEntryResponse>, Status> {
        let caller = staff(&req)?;
        let r = req.into_inner();
        let etag = convert::etag("etag", &r.etag)?;
        app::timesheets::delete(&self.state, &caller, &r.time_entry_id, etag).await?;
        Ok(Response::new(pb::DeleteTimeEntryResponse {}))
    }

    async fn mark_time_entries_invoiced(
        &self,
        req: Request<pb::MarkTimeEntriesInvoicedRequest>,
    ) -> Result<Response<pb::MarkTimeEntriesInvoicedResponse>, Status> {
        let caller = staff(&req)?;
        let r = req.into_inner();
        let done =
            app::timesheet_invoicing::mark_invoiced(&self.state, &caller, &r.customer_id, &r.time_entry_ids).await?;
        Ok(Response::new(pb::MarkTimeEntriesInvoicedResponse {
            invoice_time: Some(convert::ts(done.invoiced_at)),
            invoiced_entries: done.marked.into_iter().map(time_entry_out).collect(),
            already_invoiced_entries: done.already_invoiced.into_iter().map(time_entry_out).collect(),
        }))
    }

    async fn get_timesheet_totals(
        &self,
        req: Request<pb::GetTimesheetTotalsRequest>,
    ) -> Result<Response<pb::GetTimesheetTotalsResponse>, Status> {
        let caller = staff(&req)?;
        let r = req.get_ref();
        let t = app::timesheet_invoicing::totals(&self.state, &caller, &r.customer_id, &r.from, &r.to).await?;
        Ok(Response::new(pb::GetTimesheetTotalsResponse { totals: Some(totals_out(t)) }))
    }
}
