-- The command an approval request waits on, serialised (JSON): what runs when it is approved.
-- Rows from before this migration have NULL and are read from their other columns.
ALTER TABLE approvals ADD COLUMN command TEXT;
