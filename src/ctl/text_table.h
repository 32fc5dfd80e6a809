// Plain-text tables for smithctl's views: columns as wide as their widest cell.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace smith::ctl {

// Code points in a UTF-8 string: its width in the table for the text we expect.
inline size_t text_width(std::string_view s)
{
	return static_cast<size_t>(std::count_if(
		s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// Columns laid out from their widest cell; numbers are right-aligned, the last
// column is not padded. Cells are shown as given: callers pass them through
// printable() when they hold text from elsewhere.
class Table {
public:
	struct Column {
		std::string header;
		bool right = false;
	};
	explicit Table(std::vector<Column> columns) : columns_(std::move(columns)) {}

	void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }

	void render(std::string &out) const
	{
		std::vector<size_t> widths(columns_.size());
		for (size_t c = 0; c < columns_.size(); ++c) {
			widths[c] = text_width(columns_[c].header);
			for (const auto &row : rows_)
				widths[c] = std::max(widths[c], text_width(row[c]));
		}
		std::vector<std::string> headers;
		for (const auto &col : columns_)
			headers.push_back(col.header);
		line(out, headers, widths);
		for (const auto &row : rows_)
			line(out, row, widths);
	}

private:
	void line(std::string &out, const std::vector<std::string> &cells,
		  const std::vector<size_t> &widths) const
	{
		std::string text;
		for (size_t c = 0; c < cells.size(); ++c) {
			if (c)
				text.append("  ");
			const bool last = c + 1 == cells.size();
			const size_t w = text_width(cells[c]);
			if (columns_[c].right && w < widths[c])
				text.append(widths[c] - w, ' ');
			text.append(cells[c]);
			if (!columns_[c].right && !last && w < widths[c])
				text.append(widths[c] - w, ' ');
		}
		while (!text.empty() && text.back() == ' ')
			text.pop_back();
		out.append(text).push_back('\n');
	}

	std::vector<Column> columns_;
	std::vector<std::vector<std::string>> rows_;
};

} // namespace smith::ctl
