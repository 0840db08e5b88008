-- Run once by the mysql image, on the first start with an empty data volume
-- (mounted into /docker-entrypoint-initdb.d by docker-compose.yml).
-- To re-run it: docker compose down -v (this deletes all data).
--
-- CHANGE THE PASSWORDS below together with docker-compose.yml
-- (NUDGE_DATABASE_URL and the temporal service's MYSQL_PWD);
-- deploy/compose_test.go checks that they agree.

-- Temporal's persistence and visibility stores. temporalio/auto-setup creates
-- the schema in them on start.
CREATE DATABASE IF NOT EXISTS temporal CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_ai_ci;
CREATE DATABASE IF NOT EXISTS temporal_visibility CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_ai_ci;
CREATE USER IF NOT EXISTS 'temporal'@'%' IDENTIFIED BY 'change-me-temporal-db-password';
GRANT ALL PRIVILEGES ON temporal.* TO 'temporal'@'%';
GRANT ALL PRIVILEGES ON temporal_visibility.* TO 'temporal'@'%';

-- Nudge's own database: contacts, events, messages. `nudge migrate` creates
-- the tables.
CREATE DATABASE IF NOT EXISTS nudge CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_ai_ci;
CREATE USER IF NOT EXISTS 'nudge'@'%' IDENTIFIED BY 'change-me-nudge-db-password';
GRANT ALL PRIVILEGES ON nudge.* TO 'nudge'@'%';

FLUSH PRIVILEGES;
