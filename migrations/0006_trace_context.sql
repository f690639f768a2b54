-- Up Migration
-- The W3C traceparent of the API request that created the job (null when tracing is off, and for
-- schedules' occurrences): each attempt's span links to it. Version 00 only, lowercase hex, as the
-- API writes it; the ids may not be all zeros (an invalid context).
ALTER TABLE jobs
  ADD COLUMN trace_parent text CONSTRAINT jobs_trace_parent_format CHECK (
    trace_parent ~ '^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$'
    AND substr(trace_parent, 4, 32) <> repeat('0', 32)
    AND substr(trace_parent, 37, 16) <> repeat('0', 16)
  );

-- Down Migration
ALTER TABLE jobs DROP COLUMN trace_parent;
