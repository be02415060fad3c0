//! Auditors' `escrow statement`: an account's money movements over a period, from the indexer's API
//! (`GET /v1/accounts/{account}/statement`), as CSV or JSON, amounts in tokens (or planck with
//! `--planck`). The audit itself is `escrow audit` ([`crate::audit`]).
//!
//! The whole statement, however long: CSV is streamed by the indexer and converted and printed as it
//! arrives; JSON comes in pages, which are followed (`next`) and printed as one statement.

use clap::{Args, ValueEnum};
use escrow_client::accounts::{account, ss58};
use escrow_client::{Chain, Token};
use serde_json::Value;

use crate::context::{CliResult, Global};
use crate::output::Out;

/// How a statement is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A header line, then one line per movement.
    Csv,
    /// One object: the account, the period, totals per flow and the lines.
    Json,
}

/// `escrow statement`'s options.
#[derive(Args, Debug)]
pub struct StatementArgs {
    /// The account (SS58, hex or secret URI).
    account: String,
    /// The indexer's base URL.
    #[arg(long, env = "ESCROW_INDEXER", default_value = "http://127.0.0.1:8090")]
    indexer: String,
    /// Start of the period: block time in ms since the Unix epoch (inclusive).
    #[arg(long)]
    from: Option<u64>,
    /// End of the period: block time in ms since the Unix epoch (exclusive).
    #[arg(long)]
    to: Option<u64>,
    /// CSV or JSON (`--json` also picks JSON).
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    format: Format,
    /// JSON: lines per page asked of the indexer (1 to 1000); every page is read and printed as one.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u32).range(1..=1_000))]
    page_size: u32,
}

/// `escrow statement`: fetches the statement and prints it with amounts in the chosen unit (the node at
/// --node-url gives the token's decimals; with --planck the node is not needed).
pub async fn statement(a: StatementArgs, global: &Global) -> CliResult {
    let format = if global.json { Format::Json } else { a.format };
    let who = ss58(account(&a.account)?);
    let mut url = reqwest::Url::parse(&format!("{}/v1/accounts/{who}/statement", a.indexer.trim_end_matches('/')))
        .map_err(|e| format!("--indexer {}: {e}", a.indexer))?;
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("format", if format == Format::Csv { "csv" } else { "json" });
        if let Some(from) = a.from {
            query.append_pair("from", &from.to_string());
        }
        if let Some(to) = a.to {
            query.append_pair("to", &to.to_string());
        }
        if format == Format::Json {
            query.append_pair("limit", &a.page_size.to_string());
        }
    }
    let mut out = if global.planck {
        Out::with_token(global, Token::dev())
    } else {
        Out::of(global, &Chain::connect(&global.node_url).await?).await?
    };
    out.json = format == Format::Json;
    let client = reqwest::Client::new();
    let unreachable = |e: reqwest::Error| format!("indexer unreachable at {}: {e}", a.indexer);
    match format {
        Format::Csv => {
            let mut response = answer(client.get(url).send().await.map_err(unreachable)?).await?;
            let mut csv = CsvAmounts::default();
            let cut = |e: reqwest::Error| format!("the indexer's statement was cut: {e}");
            while let Some(chunk) = response.chunk().await.map_err(cut)? {
                print!("{}", csv.push(&out, &chunk)?);
            }
            print!("{}", csv.finish(&out)?);
        }
        Format::Json => {
            let mut statement: Option<Value> = None;
            let mut page_url = url.clone();
            loop {
                let response = answer(client.get(page_url.clone()).send().await.map_err(unreachable)?).await?;
                let mut page: Value = serde_json::from_str(&response.text().await.map_err(unreachable)?)?;
                let next = page.get_mut("next").map(Value::take).unwrap_or(Value::Null);
                match statement.as_mut() {
                    None => statement = Some(page),
                    Some(whole) => {
                        let more = page.get_mut("lines").and_then(Value::as_array_mut).map(std::mem::take);
                        if let Some(lines) = whole.get_mut("lines").and_then(Value::as_array_mut) {
                            lines.extend(more.into_iter().flatten());
                        }
                    }
                }
                let Some(cursor) = next.as_str() else { break };
                page_url = url.clone();
                page_url.query_pairs_mut().append_pair("cursor", cursor);
            }
            let mut statement = statement.unwrap_or(Value::Null);
            if let Some(fields) = statement.as_object_mut() {
                fields.remove("next");
            }
            json_in(&out, &mut statement)?;
            out.print("", statement)?;
        }
    }
    Ok(())
}

/// `response` if it is a success, else the indexer's reason as the error.
async fn answer(response: reqwest::Response) -> CliResult<reqwest::Response> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.text().await.unwrap_or_default();
    let reason = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_owned))
        .unwrap_or(body);
    Err(format!("the indexer answered {status}: {reason}").into())
}

/// A planck amount as the indexer writes it, in the chosen unit.
fn convert(out: &Out, planck: &str) -> CliResult<String> {
    let amount = planck.parse::<u128>().map_err(|_| format!("the indexer sent `{planck}` as an amount"))?;
    Ok(out.figure(amount))
}

/// The indexer's CSV, as it arrives, with its `amount` column in the chosen unit: whole lines are
/// converted as soon as they are in (the indexer's fields hold no line breaks).
#[derive(Debug, Default)]
struct CsvAmounts {
    /// Bytes of a line not yet complete.
    pending: Vec<u8>,
    /// The `amount` column, once the header was read.
    column: Option<usize>,
}

impl CsvAmounts {
    /// `bytes` added; the complete lines so far, converted.
    fn push(&mut self, out: &Out, bytes: &[u8]) -> CliResult<String> {
        self.pending.extend_from_slice(bytes);
        let Some(end) = self.pending.iter().rposition(|b| *b == b'\n') else { return Ok(String::new()) };
        let lines: Vec<u8> = self.pending.drain(..=end).collect();
        self.convert(out, &lines)
    }

    /// The rest, converted; an answer without the header is refused.
    fn finish(&mut self, out: &Out) -> CliResult<String> {
        let rest = std::mem::take(&mut self.pending);
        let converted = self.convert(out, &rest)?;
        if self.column.is_none() {
            return Err("the indexer's CSV has no amount column".into());
        }
        Ok(converted)
    }

    fn convert(&mut self, out: &Out, lines: &[u8]) -> CliResult<String> {
        let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(lines);
        let mut writer = csv::Writer::from_writer(Vec::new());
        for record in reader.records() {
            let record = record?;
            let mut fields: Vec<String> = record.iter().map(str::to_owned).collect();
            match self.column {
                None => {
                    let column = fields.iter().position(|h| h == "amount");
                    self.column = Some(column.ok_or("the indexer's CSV has no amount column")?);
                }
                Some(column) => {
                    if let Some(amount) = fields.get_mut(column) {
                        *amount = convert(out, amount)?;
                    }
                }
            }
            writer.write_record(&fields)?;
        }
        Ok(String::from_utf8(writer.into_inner().map_err(|e| e.to_string())?)?)
    }
}

/// The indexer's whole CSV with its `amount` column in the chosen unit.
#[cfg(test)]
fn csv_in(out: &Out, body: &str) -> CliResult<String> {
    let mut csv = CsvAmounts::default();
    let mut converted = csv.push(out, body.as_bytes())?;
    converted.push_str(&csv.finish(out)?);
    Ok(converted)
}

/// The indexer's JSON statement with its totals and line amounts in the chosen unit.
fn json_in(out: &Out, statement: &mut Value) -> CliResult {
    if let Some(totals) = statement.get_mut("totals").and_then(Value::as_object_mut) {
        for total in totals.values_mut() {
            let planck = total.as_str().ok_or("the indexer sent a total that is not a string")?;
            *total = Value::String(convert(out, planck)?);
        }
    }
    for line in statement.get_mut("lines").and_then(Value::as_array_mut).into_iter().flatten() {
        if let Some(amount) = line.get_mut("amount") {
            let planck = amount.as_str().ok_or("the indexer sent an amount that is not a string")?;
            *amount = Value::String(convert(out, planck)?);
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn out(planck: bool) -> Out {
        Out { token: Token::dev(), planck, json: true }
    }

    #[test]
    fn amounts_are_converted_in_csv_and_json() {
        let csv = "timestamp_ms,block,event_index,job_id,entry,flow,amount\n\
                   1,2,0,3,release_net,credited,4750000000000\n1,2,1,,claim,paid_out,1\n";
        let tokens = csv_in(&out(false), csv).unwrap();
        assert_eq!(
            tokens,
            "timestamp_ms,block,event_index,job_id,entry,flow,amount\n\
             1,2,0,3,release_net,credited,4.75\n1,2,1,,claim,paid_out,0.000000000001\n"
        );
        assert_eq!(csv_in(&out(true), csv).unwrap(), csv);
        let mut statement = json!({ "totals": { "credited": "4750000000000" },
                                    "lines": [{ "amount": "4750000000000", "block": 2 }] });
        json_in(&out(false), &mut statement).unwrap();
        assert_eq!(statement, json!({ "totals": { "credited": "4.75" }, "lines": [{ "amount": "4.75", "block": 2 }] }));
        assert!(csv_in(&out(false), "a,b\n1,2\n").is_err());
        assert!(csv_in(&out(false), "").is_err(), "no header");
        // Arriving in pieces, split anywhere: the same lines.
        let mut pieces = CsvAmounts::default();
        let mut converted = String::new();
        for piece in csv.as_bytes().chunks(7) {
            converted.push_str(&pieces.push(&out(false), piece).unwrap());
        }
        converted.push_str(&pieces.finish(&out(false)).unwrap());
        assert_eq!(converted, tokens);
    }
}
