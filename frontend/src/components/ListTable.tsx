import { Table, Text, type TableProps } from "@mantine/core";
import type { ReactNode } from "react";
import { useTranslation } from "react-i18next";

/** A list page's table: scrolls sideways on narrow screens, and says "loading" or
 * "nothing here yet" in one full-width row when there are no rows. */
export function ListTable({
  headers,
  rows,
  loading,
  minWidth,
  ...tableProps
}: {
  headers: ReactNode[];
  rows: ReactNode[];
  loading: boolean;
  minWidth: number;
} & Omit<TableProps, "children">) {
  const { t } = useTranslation();
  return (
    <Table.ScrollContainer minWidth={minWidth}>
      <Table striped highlightOnHover verticalSpacing="xs" {...tableProps}>
        <Table.Thead>
          <Table.Tr>
            {headers.map((header, index) => (
              <Table.Th key={index}>{header}</Table.Th>
            ))}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {rows.length > 0 ? (
            rows
          ) : (
            <Table.Tr>
              <Table.Td colSpan={headers.length}>
                <Text c="dimmed" ta="center" py="md">
                  {loading ? t("loading") : t("pagination.empty")}
                </Text>
              </Table.Td>
            </Table.Tr>
          )}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}
