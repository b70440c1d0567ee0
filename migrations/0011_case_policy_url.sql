-- The clause of the terms a case's evidence broke, as its notices link it: the URL of the policy
-- tag ([statements.tags]) of the rules behind the evidence, resolved when the case opens so that
-- every later notice (an uphold, a restart) links the same clause. NULL: the general policy URL.
ALTER TABLE cases ADD COLUMN policy_url TEXT;
