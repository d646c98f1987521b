"""The input layer: CSV and spreadsheet readers, columns, recipients, expiry and the formula guard."""
