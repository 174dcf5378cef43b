use super::{
    caller::staff,
    convert::{self, contact_fields_in, contact_out, customer_fields_in, customer_out, customer_with_contacts_out},
    pb::{self, customer_service_server::CustomerService},
};
use crate::{
    app::{
        self, AppState,
        contacts::UpdateContact,
        customer_input::ContactFields,
        customers::{CreateCustomer, ListCustomers, SetSmsConsent, UpdateCustomer},
        import::{ImportRow, RowOutcome},
    },
    domain::page::PageRequest,
    error::{AppError, Violations},
};
use tonic::{Request, Response, Status, Streaming};

pub struct CustomerApi {
    state: AppState,
}

impl CustomerApi {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl CustomerService for CustomerApi {
    async fn create_customer(
        &self,
        req: Request<pb::CreateCustomerRequest>,
    ) -> Result<Response<pb::CreateCustomerResponse>, Status> {
        let caller = staff(&req)?;
        let r = req.into_inner();
        let key = super::convert::request_key(&r.request_id, &r);
        let mut v = Violations::new();
        let customer = match r.customer {
            Some(c) => customer_fields_in(&mut v, c),
            None => {
                v.add("customer", "is required");
                Default::default()
            }
        };
        v.into_result()?;
        let created = app::customers::create(
            &self.state,
            &caller,
            CreateCustomer {
                customer,
                contacts: r.contacts.into_iter().map(contact_fields_in).collect(),
                send_welcome_mail: r.send_welcome_mail,
                request: key,
            },
        )
        .await?;
        Ok(Response::new(pb::CreateCustomerResponse { customer: Some(customer_with_contacts_out(&created)) }))
    }

    async fn get_customer(
        &self,
        req: Request<pb::GetCustomerRequest>,
    ) -> Result<Response<pb::GetCustomerResponse>, Status> {
        let caller = staff(&req)?;
        let c = app::customers::get(&self.state, &caller, &req.get_ref().customer_id).await?;
        Ok(Response::new(pb::GetCustomerResponse { customer: Some(customer_with_contacts_out(&c)) }))
    }

    async fn list_customers(
        &self,
        req: Request<pb::ListCustomersRequest>,
    ) -> Result<Response<pb::ListCustomersResponse>, Status> {
        let caller = staff(&req)?;
        let r = req.into_inner();
        let mut v = Violations::new();
        let kind = convert::kind_in(&mut v, "kind", r.kind);
        v.into_result()?;
        let page = PageRequest::parse(r.page_size, &r.page_token)?;
        let page = app::customers::list(
            &self.state,
            &caller,
            ListCustomers { query: r.query, area_id: r.area_id, kind },
            page,
        )
        .await?;
        Ok(Response::new(pb::ListCustomersResponse {
            customers: page.items.iter().map(|c| customer_out(c, &[])).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn update_customer(
        &self,
        req: Request<pb::UpdateCustomerRequest>,
    ) -> Result<Response<pb::UpdateCustomerResponse>, Status> {
        let caller = staff(&req)?;
        let r = req.into_inner();
        let c = r.customer.ok_or_else(|| AppError::invalid("customer", "is required"))?;
        let id = c.id.clone();
        let etag = convert::etag("customer.etag", &c.etag)?;
        let mut v = Violations::new();
        let fields = customer_fields_in(&mut v, c);
        v.into_result()?;
        let updated = app::customers::update(
            &self.state,
            &caller,
            UpdateCustomer { id, fields, mask: convert::mask(r.update_mask), etag },
        )
        .await?;
        Ok(Response::new(pb::UpdateCustomerResponse { customer: Some(customer_with_contacts_out(&updated)) }))
    }

    async fn delete_customer(
        &self,
        req: Request<pb::DeleteCustomerRequest>,
    ) -> Result<Response<pb::DeleteCustomerResponse>, Status> {
        let caller = staff(&req)?;
        app::customers::delete(&self.state, &caller, &req.get_ref().customer_id).await?;
        Ok(Response::new(pb::DeleteCustomerResponse {}))
    }

    async fn set_sms_consent(
        &self,
        req: Request<pb::SetSmsConsentRequest>,
    ) -> Result<Response<pb::SetSmsConsentResponse>, Status> {
        let caller = staff(&req)?;
        let r = req.into_inner();
        let mut v = Violations::new();
        let method = convert::consent_method_in(&mut v, "method", r.method);
        v.into_result()?;
        let c = app::customers::set_sms_consent(
            &self.state,
            &caller,
            SetSmsConsent { customer_id: r.customer_id, granted: r.granted, method, note: r.note },
        )
        .await?;
        Ok(Response::new(pb::SetSmsConsentResponse { customer: Some(customer_with_contacts_out(&c)) }))
    }

    async fn create_contact(
        &self,
        req: Request<pb::CreateContactRequest>,
    ) -> Result<Response<pb::CreateContactResponse>, Status> {
        let caller = staff(&req)?;
        let r = req.into_inner();
        let key = super::convert::request_key(&r.request_id, &r);
        let fields = r.contact.map(contact_fields_in).unwrap_or_default();
        let c = app::contacts::create(&self.state, &caller, &r.customer_id, fields, r.send_welcome_mail, &key).await?;
        Ok(Response::new(pb::CreateContactResponse { contact: Some(contact_out(&c)) }))
    }

    async fn get_contact(
        &self,
        req: Request<pb::GetContactRequest>,
    ) -> Result<Response<pb::GetContactResponse>, Status> {
        let caller = staff(&req)?;
        let c = app::contacts::get(&self.state, &caller, &req.get_ref().contact_id).await?;
        Ok(Response::new(pb::GetContactResponse { contact: Some(contact_out(&c)) }))
    }

    async fn list_contacts(
        &self,
        req: Request<pb::ListContactsRequest>,
    ) -> Result<Response<pb::ListContactsResponse>, Status> {
        let caller = staff(&req)?;
        let r = req.into_inner();
        let page = PageRequest::parse(r.page_size, &r.page_token)?;
        let page = app::contacts::list(&self.state, &caller, &r.customer_id, page).await?;
        Ok(Response::new(pb::ListContactsResponse {
            contacts: page.items.iter().map(contact_out).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn update_contact(
        &self,
        req: Request<pb::UpdateContactRequest>,
    ) -> Result<Response<pb::UpdateContactResponse>, Status> {
        let caller = staff(&req)?;
        let r = req.into_inner();
        let c = r.contact.ok_or_else(|| AppError::invalid("contact", "is required"))?;
        let etag = convert::etag("contact.etag", &c.etag)?;
        let fields = ContactFields {
            first_name: c.first_name,
            last_name: c.last_name,
            email: c.email,
            phone: c.phone,
            hub_access: Some(c.hub_access),
        };
        let updated = app::contacts::update(
            &self.state,
            &caller,
            UpdateContact { id: c.id, fields, mask: convert::mask(r.update_mask), etag },
        )
        .await?;
        Ok(Response::new(pb::UpdateContactResponse { contact: Some(contact_out(&updated)) }))
    }

    async fn delete_contact(
        &self,
        req: Request<pb::DeleteContactRequest>,
    ) -> Result<Response<pb::DeleteContactResponse>, Status> {
        let caller = staff(&req)?;
        app::contacts::delete(&self.state, &caller, &req.get_ref().contact_id).await?;
        Ok(Response::new(pb::DeleteContactResponse {}))
    }

    async fn send_welcome_mail(
        &self,
        req: Request<pb::SendWelcomeMailRequest>,
    ) -> Result<Response<pb::SendWelcomeMailResponse>, Status> {
        let caller = staff(&req)?;
        let c = app::welcome::send(&self.state, &caller, &req.get_ref().contact_id).await?;
        Ok(Response::new(pb::SendWelcomeMailResponse { contact: Some(contact_out(&c)) }))
    }

    async fn export_personal_data(
        &self,
        req: Request<pb::ExportPersonalDataRequest>,
    ) -> Result<Response<pb::ExportPersonalDataResponse>, Status> {
        let caller = staff(&req)?;
        let json = app::privacy::export(&self.state, &caller, &req.get_ref().contact_id).await?;
        Ok(Response::new(pb::ExportPersonalDataResponse { json }))
    }

    async fn erase_personal_data(
        &self,
        req: Request<pb::ErasePersonalDataRequest>,
    ) -> Result<Response<pb::ErasePersonalDataResponse>, Status> {
        let caller = staff(&req)?;
        let at = app::privacy::erase(&self.state, &caller, &req.get_ref().contact_id).await?;
        Ok(Response::new(pb::ErasePersonalDataResponse { erase_time: Some(convert::ts(at)) }))
    }

    async fn import_customers(
        &self,
        req: Request<Streaming<pb::ImportCustomersRequest>>,
    ) -> Result<Response<pb::ImportCustomersResponse>, Status> {
        let mut caller = staff(&req)?;
        app::import::authorize(&caller)?;
        let mut stream = req.into_inner();
        let mut out = pb::ImportCustomersResponse::default();
        let mut row_index = 0i32;
        // A row that is not valid protobuf is the caller's mistake, not ours.
        while let Some(row) = stream.message().await.map_err(|s| {
            if s.code() == tonic::Code::Internal { Status::invalid_argument(s.message().to_string()) } else { s }
        })? {
            // A long import must not outlive its key: each row asks again, as
            // every call does (through the credential cache), so a revoked
            // key or a demoted user stops the import at the next row.
            caller = app::import::still_authorized(&self.state, &caller).await?;
            let mut v = Violations::new();
            let customer = customer_fields_in(&mut v, row.customer.unwrap_or_default());
            let outcome = if v.is_empty() {
                app::import::import_row(
                    &self.state,
                    &caller,
                    ImportRow {
                        external_ref: row.external_ref.clone(),
                        customer,
                        contacts: row.contacts.into_iter().map(contact_fields_in).collect(),
                        send_welcome_mail: row.send_welcome_mail,
                    },
                )
                .await?
            } else {
                RowOutcome::Error { message: "the row has invalid fields".into(), fields: v.items().to_vec() }
            };
            let mut result =
                pb::ImportRowResult { row: row_index, external_ref: row.external_ref, ..Default::default() };
            match outcome {
                RowOutcome::Created(id) => {
                    result.outcome = pb::ImportOutcome::Created as i32;
                    result.customer_id = id.into_string();
                    out.created_count += 1;
                }
                RowOutcome::Updated(id) => {
                    result.outcome = pb::ImportOutcome::Updated as i32;
                    result.customer_id = id.into_string();
                    out.updated_count += 1;
                }
                RowOutcome::Error { message, fields } => {
                    result.outcome = pb::ImportOutcome::Error as i32;
                    result.error = message;
                    result.field_errors = fields
                        .into_iter()
                        .map(|f| pb::ImportFieldError { field: f.field, description: f.description })
                        .collect();
                    out.error_count += 1;
                }
            }
            out.results.push(result);
            row_index += 1;
        }
        Ok(Response::new(out))
    }
}
