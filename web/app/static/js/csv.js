// CSV files for spreadsheets, as French Excel opens them with a double click: ";" between fields
// (the comma is the French decimal separator), a UTF-8 byte order mark (without it Excel reads the
// file as Windows-1252 and breaks every accent), CRLF line ends, decimal commas, fields quoted when
// they hold ";", a quote or a line break. Downloaded in the browser (a Blob and a link with
// `download`): nothing goes back to the server.

const BOM = "\uFEFF";
export const SEPARATOR = ";";

/** A field: quoted when needed; a text that a spreadsheet would run as a formula (=, +, @, a tab)
 * gets a leading apostrophe (what Excel itself does for typed text). */
export function field(value) {
  if (value === null || value === undefined) return "";
  let text = String(value);
  if (typeof value === "string" && /^[=+@\t\r]/.test(text)) text = `'${text}`;
  return /[";\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** A number with a decimal comma and at most `decimals` decimals, no thousands separator ("" for null). */
export function decimal(value, decimals = 1) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "";
  const factor = 10 ** decimals;
  return String(Math.round(value * factor) / factor).replace(".", ",");
}

/** The lines (arrays of fields) as CSV text, without the byte order mark. */
export function toCsv(lines) {
  return lines.map((line) => line.map(field).join(SEPARATOR)).join("\r\n") + "\r\n";
}

/** Save `text` as `filename` (text/csv, UTF-8 with its byte order mark). */
export function download(filename, text) {
  const blob = new Blob([BOM, text], { type: "text/csv;charset=utf-8" });
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
