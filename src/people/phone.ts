/**
 * Phone numbers are stored in one form so that an exact match finds them however they were typed:
 * digits only, with the country code. `+82 10-1234-5678`, `010 1234 5678` (with default country
 * code 82) and `821012345678` are all `821012345678`. A number written with `+` or `00` carries its
 * own country code; one starting with a single 0 (a national trunk prefix) gets the default one;
 * anything else is taken as already international.
 */
export function normalizePhone(raw: string, defaultCountryCode: string): string {
  const trimmed = raw.trim();
  const digits = trimmed.replace(/[^0-9]/g, '');
  if (trimmed.startsWith('+')) return digits;
  if (digits.startsWith('00')) return digits.slice(2);
  if (digits.startsWith('0')) return `${defaultCountryCode}${digits.slice(1)}`;
  return digits;
}

/** What a client may send as a phone number: digits with the usual separators, 4 to 20 characters. */
export const PHONE_PATTERN = '^\\+?[0-9][0-9 ()\\-.]{3,19}$';
