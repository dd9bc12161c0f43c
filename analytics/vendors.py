"""Column names that ad platforms, email tools and CRMs export, recognised without a mapping.

Headers are compared after `normalize_name` ('Became a Lead Date' -> 'became_a_lead_date'). For each
canonical column the first alias the file has wins; a header with the canonical name always wins.
The README lists these tables for analysts.
"""

from __future__ import annotations

# canonical column -> known headers, most specific first (HubSpot, Salesforce, Google Ads, Meta Ads,
# Mailchimp and common CSV habits).
ALIASES: dict[str, tuple[str, ...]] = {
    "lead_id": ("record_id", "contact_id", "lead_id_18", "opportunity_id", "id", "email", "email_address",
                "customer_id"),
    "created_at": ("create_date", "created_date", "createdate", "created", "date_created", "dt_customer",
                   "became_a_lead_date"),
    "channel": ("original_source", "lead_source", "source", "utm_source", "original_source_type"),
    "campaign_id": ("campaign", "campaign_name", "utm_campaign", "campaign_title", "title"),
    "account_id": ("company_name", "associated_company", "company", "account", "account_name"),
    "seniority": ("job_level", "management_level", "seniority_level"),
    "value": ("close_value", "amount", "deal_amount", "revenue"),
    "name": ("campaign_name", "campaign", "campaign_title", "title"),
    "date": ("day", "reporting_starts", "send_date", "send_time", "date_sent"),
    "start_date": ("start", "campaign_start_date", "starts"),
    "end_date": ("end", "reporting_ends", "campaign_end_date", "ends"),
    "spend": ("cost", "amount_spent", "amount_spent_usd", "amount_spent_eur", "spent", "budget_spent"),
    "impressions": ("impr", "impr_", "impressions_total"),
    "clicks": ("link_clicks", "clicks_all", "unique_clicks", "total_clicks"),
    "sent_at": ("send_date", "send_time", "sent_date", "date_sent"),
    "sent": ("emails_sent", "total_recipients", "recipients", "sends"),
    "delivered": ("successful_deliveries", "deliveries", "delivered_count"),
    "opened": ("unique_opens", "opens", "total_opens"),
    "clicked": ("unique_clicks", "clicks", "total_clicks", "recipients_who_clicked"),
    "unsubscribed": ("unsubscribes", "unsubscribe_count", "unsubscribed_count"),
    "converted": ("conversions", "orders", "purchases"),
    "variant": ("variant_name", "version", "test_variant", "ab_variant"),
    "medium": ("channel_type", "message_type", "type"),
}

# HubSpot lifecycle export columns: one date per stage reached, empty when the contact never got there.
LIFECYCLE_DATES: dict[str, str] = {
    "became_a_lead_date": "lead",
    "became_a_marketing_qualified_lead_date": "mql",
    "became_an_mql_date": "mql",
    "became_a_sales_qualified_lead_date": "sql",
    "became_an_sql_date": "sql",
    "became_a_customer_date": "won",
}

# Status values a pipeline export uses for its outcomes (after lower-casing), and the stage each means.
STATUS_STAGES: dict[str, str] = {
    "won": "won", "closed won": "won", "closed - won": "won", "closed/won": "won", "customer": "won",
    "lost": "lost", "closed lost": "lost", "closed - lost": "lost", "closed/lost": "lost",
    "disqualified": "lost", "unqualified": "lost",
    "mql": "mql", "marketing qualified lead": "mql", "sql": "sql", "sales qualified lead": "sql",
    "lead": "lead",
}
