-- The origins an LMS shows the tool from are not always its issuer's or login endpoint's: Canvas
-- Cloud's issuer is canvas.instructure.com while each school frames the tool from its own domain.
-- Each registration remembers the origins its signed launches name (launch_presentation.return_url,
-- tool_platform.url), so the tool's pages can allow exactly those as frame ancestors. Bounded.
ALTER TABLE lti_platforms ADD COLUMN frame_origins text[] NOT NULL DEFAULT '{}';
