// French formats: distances, scores, dates and ISO weeks.

const decimal = new Intl.NumberFormat("fr-FR", { maximumFractionDigits: 1 });
const percent = new Intl.NumberFormat("fr-FR", { style: "percent", maximumFractionDigits: 0 });
const longDay = new Intl.DateTimeFormat("fr-FR", { dateStyle: "long", timeZone: "UTC" });
const dayAndTime = new Intl.DateTimeFormat("fr-FR", { dateStyle: "long", timeStyle: "short", timeZone: "Europe/Paris" });

export function km(value) {
  return typeof value === "number" && Number.isFinite(value) ? `${decimal.format(value)} km` : "non indiquée";
}

export function score(value) {
  return typeof value === "number" && Number.isFinite(value) ? percent.format(value) : "non calculé";
}

/** "2027-01-13" -> "13 janvier 2027". */
export function day(iso) {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(iso || ""));
  if (!match) return iso || "";
  return longDay.format(new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]))));
}

/** An ISO date-time -> "13 janvier 2027 à 18:00" (Paris time). */
export function dateTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? (iso || "") : dayAndTime.format(date);
}

/** "2027-W05" -> "semaine 5 de 2027". */
export function isoWeek(week) {
  const match = /^(\d{4})-W(\d{2})$/.exec(String(week || ""));
  return match ? `semaine ${Number(match[2])} de ${match[1]}` : String(week || "");
}

/** "1 demande", "3 demandes". */
export function count(n, singular, plural) {
  return `${n} ${n === 1 || n === 0 ? singular : plural}`;
}
