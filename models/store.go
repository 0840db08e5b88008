package models

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	mysqldriver "github.com/go-sql-driver/mysql"
	"github.com/libtnb/sqlite"
	"gorm.io/driver/mysql"
	"gorm.io/gorm"
	"gorm.io/gorm/callbacks"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"
	"gorm.io/gorm/schema"
)

// ErrNotFound is returned when a row asked for by key does not exist.
var ErrNotFound = errors.New("not found")

// Store is Nudge's database: contacts, events, messages, discount codes.
type Store struct {
	db      *gorm.DB
	Dialect string // "sqlite" or "mysql"
	// AttributionWindow is how far back a click or an abandoned cart may be
	// and still earn an order (NUDGE_ATTRIBUTION_WINDOW; default 5 days).
	AttributionWindow time.Duration

	// The group-commit writer behind Accept, and the contacts it knows to
	// exist.
	known       map[string]bool
	created     []string
	txKnown     map[string]bool   // made sure of in the transaction under way
	idKey       []byte            // the contact ID key (contactids.go)
	userIDs     map[string]string // user IDs mapped to contact IDs, committed
	txUserIDs   map[string]string // and mapped in the transaction under way
	merges      int64             // the merges counted when userIDs was filled (merge.go)
	accepts     chan *acceptRequest
	startWriter sync.Once
	closed      chan struct{}
	closeOnce   sync.Once

	// The messages' daily roll-ups (rollups.go): one refresh at a time,
	// and when the last one to end began.
	rollupMu      sync.Mutex
	rollupStarted time.Time
	rollupSeen    map[uint64]countedSeen // message ID: the counted state a refresh included
}

// Open connects to the database named by url:
//
//	sqlite://path/to/file.db      (also sqlite:path or file:path; the default)
//	mysql://user:pass@tcp(host:3306)/db
//	user:pass@tcp(host:3306)/db   (a go-sql-driver DSN)
func Open(url string) (*Store, error) {
	dialect, dsn, err := ParseURL(url)
	if err != nil {
		return nil, err
	}
	cfg := &gorm.Config{
		Logger:  logger.Discard,
		NowFunc: func() time.Time { return time.Now().UTC() },
		// Every write here is one statement or an explicit transaction, so
		// gorm's implicit transaction per write is only overhead; prepared
		// statements spare re-parsing the same SQL on every event.
		SkipDefaultTransaction: true,
		PrepareStmt:            true,
	}
	var db *gorm.DB
	switch dialect {
	case "sqlite":
		if dir := filepath.Dir(dsn); dir != "." && !strings.HasPrefix(dsn, ":memory:") {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, fmt.Errorf("create database folder: %w", err)
			}
		}
		// WAL lets readers run beside the writer; busy_timeout waits out the
		// writer instead of failing with "database is locked". Transactions
		// take the write lock when they begin (_txlock=immediate): one that
		// read first and wrote later would fail outright (SQLITE_BUSY_SNAPSHOT)
		// whenever another process, a worker beside a gateway, wrote between.
		// Reads go through a memory map of up to 1 GiB (mmap_size): SQLite's
		// own page cache holds 2 MB, and a month's results read far more;
		// mapped pages are the kernel's file cache, shared and reclaimable.
		// The map cut the results' reads by a third on the 50,000-contact
		// bench (make bench, part results).
		db, err = gorm.Open(sqliteDialector{sqlite.Open(dsn + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)&_pragma=temp_store(MEMORY)&_pragma=mmap_size(1073741824)&_txlock=immediate").(*sqlite.Dialector)}, cfg)
		if err == nil {
			// One connection: SQLite has one writer anyway, and this keeps
			// concurrent transactions from failing on lock upgrades.
			sqlDB, _ := db.DB()
			sqlDB.SetMaxOpenConns(1)
			// Inserts without RETURNING: the driver re-prepares every
			// statement that returns rows, which was a third of the cost
			// of storing an event; plain inserts reuse prepared statements.
			create := db.Callback().Create()
			create.Clauses = []string{"INSERT", "VALUES", "ON CONFLICT"}
			err = create.Replace("gorm:create", callbacks.Create(&callbacks.Config{LastInsertIDReversed: true}))
		}
	case "mysql":
		// Without RETURNING, an insert that hits a duplicate key reports
		// zero rows affected, which is how Accept and BeginMessage tell a
		// resend from a first send (MariaDB would otherwise return the row).
		db, err = gorm.Open(mysql.New(mysql.Config{DSN: dsn, DisableWithReturning: true}), cfg)
		if err == nil {
			sqlDB, _ := db.DB()
			sqlDB.SetMaxOpenConns(32)
			sqlDB.SetMaxIdleConns(32)
			sqlDB.SetConnMaxLifetime(5 * time.Minute)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", dialect, err)
	}
	return &Store{db: db, Dialect: dialect, txUserIDs: map[string]string{}, accepts: make(chan *acceptRequest), closed: make(chan struct{})}, nil
}

// ParseURL tells which database a NUDGE_DATABASE_URL names and the DSN its
// driver takes.
func ParseURL(url string) (dialect, dsn string, err error) {
	switch {
	case strings.HasPrefix(url, "sqlite://"):
		dsn = strings.TrimPrefix(url, "sqlite://")
	case strings.HasPrefix(url, "sqlite:"):
		dsn = strings.TrimPrefix(url, "sqlite:")
	case strings.HasPrefix(url, "file:"):
		dsn = strings.TrimPrefix(url, "file:")
	case strings.HasPrefix(url, "mysql://"):
		return mysqlDSN(strings.TrimPrefix(url, "mysql://"))
	case strings.Contains(url, "@tcp(") || strings.Contains(url, "@unix("):
		return mysqlDSN(url)
	default:
		return "", "", fmt.Errorf("%q is not a database URL: use sqlite://path/to/file.db or mysql://user:pass@tcp(host:3306)/db", url)
	}
	if dsn == "" {
		return "", "", fmt.Errorf("%q names no SQLite file", url)
	}
	return "sqlite", dsn, nil
}

func mysqlDSN(dsn string) (string, string, error) {
	cfg, err := mysqldriver.ParseDSN(dsn)
	if err != nil {
		return "", "", fmt.Errorf("bad MySQL DSN: %w", err)
	}
	if cfg.DBName == "" {
		return "", "", fmt.Errorf("MySQL DSN %q names no database", dsn)
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	// MySQL keeps microseconds at most. A time with nanoseconds reaches
	// MariaDB as a value it will not compare through an index, so every
	// "at >= ?" from time.Now() read its whole table (25 ms on 200,000
	// messages against 0.3 ms).
	if err := cfg.Apply(mysqldriver.TimeTruncate(time.Microsecond)); err != nil {
		return "", "", err
	}
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	if _, ok := cfg.Params["charset"]; !ok {
		cfg.Params["charset"] = "utf8mb4"
	}
	return "mysql", cfg.FormatDSN(), nil
}

// sqliteDialector is the SQLite driver with a migrator that does not rebuild
// tables over column sizes. SQLite has none (a VARCHAR(191) is TEXT), and
// the driver reports every TEXT column's length as the largest int64, so
// gorm saw each sized NOT NULL column as changed and copied its whole table
// on every start: 14 rebuilds, 75 s with a million events.
type sqliteDialector struct{ *sqlite.Dialector }

func (d sqliteDialector) Migrator(db *gorm.DB) gorm.Migrator {
	return sqliteMigrator{d.Dialector.Migrator(db).(*sqlite.Migrator)}
}

type sqliteMigrator struct{ *sqlite.Migrator }

func (m sqliteMigrator) MigrateColumn(value any, field *schema.Field, column gorm.ColumnType) error {
	return m.Migrator.MigrateColumn(value, field, sizeless{column, field.Size})
}

// sizeless reports a column's length as the model's, so size never decides.
type sizeless struct {
	column // embedded under another name: a field called ColumnType would hide the method
	size   int
}

type column = gorm.ColumnType

func (c sizeless) Length() (int64, bool) { return int64(c.size), c.size > 0 }

// skipDuplicates makes an insert that hits a unique key insert nothing, and
// report zero rows affected, instead of failing. On SQLite that is INSERT OR
// IGNORE rather than ON CONFLICT DO NOTHING: the latter may still abort on a
// NOT NULL column, so SQLite keeps a statement journal for every insert in a
// transaction, which is most of the cost of storing an event.
func skipDuplicates(db *gorm.DB) *gorm.DB {
	if db.Dialector.Name() == "sqlite" {
		return db.Clauses(clause.Insert{Modifier: "OR IGNORE"})
	}
	return db.Clauses(clause.OnConflict{DoNothing: true})
}

// Migrate creates or updates every table. It is safe to run on every start.
func (s *Store) Migrate(ctx context.Context) error {
	db := s.db.WithContext(ctx)
	if s.Dialect == "mysql" {
		db = db.Set("gorm:table_options", "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin")
	}
	// Roll-ups gain a table now and then: a database without it rolls up
	// every day again, on the first read.
	rollupsGrew := !db.Migrator().HasTable(&RecipientDay{})
	if err := db.AutoMigrate(all...); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	// journey_recipient_days replaced it, keyed in a new order.
	if m := db.Migrator(); m.HasTable("recipient_days") {
		if err := m.DropTable("recipient_days"); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	if rollupsGrew {
		if err := s.db.WithContext(ctx).Where("name = ?", rollupMarkSetting).Delete(&Setting{}).Error; err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	if err := s.loadContactIDKey(s.db.WithContext(ctx)); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := backfillStages(s.db.WithContext(ctx)); err != nil {
		return fmt.Errorf("migrate: stage history: %w", err)
	}
	if err := backfillEnteredAt(s.db.WithContext(ctx)); err != nil {
		return fmt.Errorf("migrate: stage history: %w", err)
	}
	if err := backfillLastEngaged(s.db.WithContext(ctx)); err != nil {
		return fmt.Errorf("migrate: last engagement: %w", err)
	}
	// Orders from before sources were recorded are keyed by their bare ID:
	// name it as their order ID too, so an admin key can still reach them.
	if err := db.Model(&Order{}).Where("order_id = '' OR order_id IS NULL").Update("order_id", gorm.Expr("id")).Error; err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	// Indexes that wider ones replaced: idx_events_pending_contact (the
	// relay's claims), the covering idx_journey_runs_period and
	// idx_journey_runs_active (the results), idx_messages_status_at, and
	// idx_messages_journey_at, whose first column served as well alone.
	for _, old := range []struct {
		table any
		name  string
	}{{&Event{}, "idx_events_status_id"}, {&JourneyRun{}, "idx_journey_runs_started"}, {&JourneyRun{}, "idx_journey_runs_outcome"},
		{&Message{}, "idx_messages_status"}, {&Message{}, "idx_messages_journey"}} {
		if m := db.Migrator(); m.HasIndex(old.table, old.name) {
			if err := m.DropIndex(old.table, old.name); err != nil {
				return fmt.Errorf("migrate: drop %s: %w", old.name, err)
			}
		}
	}
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// Close stops the writer and releases the connections.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.closed) })
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// DB exposes the gorm handle for tests and one-off reads.
func (s *Store) DB() *gorm.DB { return s.db }

// Contact returns the contact with id, or ErrNotFound.
func (s *Store) Contact(ctx context.Context, id string) (*Contact, error) {
	var c Contact
	err := s.db.WithContext(ctx).Where("id = ?", id).Take(&c).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	return &c, err
}

// SaveContact inserts or replaces a contact.
func (s *Store) SaveContact(ctx context.Context, c *Contact) error {
	return s.db.WithContext(ctx).Save(c).Error
}

// Unsubscribe stops marketing email to the contact. It reports whether the
// contact was subscribed until now.
func (s *Store) Unsubscribe(ctx context.Context, contactID string, at time.Time) (changed bool, err error) {
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Contact{}).Where("id = ? AND unsubscribed_at IS NULL", contactID).Update("unsubscribed_at", at.UTC())
		if res.Error != nil {
			return res.Error
		}
		changed = res.RowsAffected == 1
		// The address goes with it: no other contact that carries it
		// gets marketing email either.
		var email string
		if err := tx.Model(&Contact{}).Where("id = ?", contactID).Pluck("email", &email).Error; err != nil || email == "" {
			return err
		}
		yes := true
		_, err := changeSuppression(tx, SuppressionChange{Channel: ChannelEmail, Address: email, Unsubscribed: &yes,
			Reason: "unsubscribed", At: at, Source: "contact " + contactID})
		return err
	})
	return changed, err
}

// Messages lists the messages to a contact, newest first (with those to
// contacts merged into it).
func (s *Store) Messages(ctx context.Context, contactID string, limit int) ([]Message, error) {
	var ms []Message
	ids, err := s.withMerged(ctx, contactID)
	if err != nil {
		return nil, err
	}
	err = s.db.WithContext(ctx).Where("contact_id IN ?", ids).Order("id DESC").Limit(limit).Find(&ms).Error
	return ms, err
}

// Message returns one message by id, or ErrNotFound.
func (s *Store) Message(ctx context.Context, id uint64) (*Message, error) {
	var m Message
	err := s.db.WithContext(ctx).Where("id = ?", id).Take(&m).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	return &m, err
}

// BeginMessage claims m.Key for a send. When the key is new, m is written
// (with its Status, normally MessageClaimed) and BeginMessage returns nil.
// When a message with that key exists, it is returned instead and nothing is
// written: the caller decides from its state what may happen.
func (s *Store) BeginMessage(ctx context.Context, m *Message) (*Message, error) {
	res := skipDuplicates(s.db.WithContext(ctx)).Create(m)
	if res.Error != nil {
		return nil, res.Error
	}
	if res.RowsAffected == 1 {
		return nil, nil
	}
	var existing Message
	if err := s.db.WithContext(ctx).Where("`key` = ?", m.Key).Take(&existing).Error; err != nil {
		return nil, err
	}
	return &existing, nil
}

// ReclaimMessage makes a new attempt the owner of a message found in state
// from, as attempt number attempts: it moves the row to MessageClaimed and
// bumps Attempts (and Repeats, for a send made again after an unknown
// outcome). It reports false when the row was no longer in that state,
// because another attempt moved it first.
func (s *Store) ReclaimMessage(ctx context.Context, key, from string, attempts int, repeat bool) (bool, error) {
	change := map[string]any{"status": MessageClaimed, "attempts": gorm.Expr("attempts + 1"), "reason": ""}
	if repeat {
		change["repeats"] = gorm.Expr("repeats + 1")
	}
	res := s.db.WithContext(ctx).Model(&Message{}).Where("`key` = ? AND status = ? AND attempts = ?", key, from, attempts).Updates(change)
	return res.RowsAffected == 1, res.Error
}

// HandOverMessage records, for the attempt that claimed it, that a message
// is about to reach the provider. It reports false when another attempt has
// taken the message over: then this one must not send it.
func (s *Store) HandOverMessage(ctx context.Context, key string, attempts int) (bool, error) {
	res := s.db.WithContext(ctx).Model(&Message{}).Where("`key` = ? AND status = ? AND attempts = ?", key, MessageClaimed, attempts).
		Update("status", MessageHanded)
	return res.RowsAffected == 1, res.Error
}

// FinishMessage records how an attempt's send ended, unless another attempt
// owns the message by now. providerID is the provider's ID for it, if any.
func (s *Store) FinishMessage(ctx context.Context, key string, attempts int, status, reason, providerID string, sentAt *time.Time) error {
	change := map[string]any{"status": status, "reason": reason, "sent_at": sentAt}
	if providerID != "" {
		change["provider_id"] = providerID
	}
	return s.db.WithContext(ctx).Model(&Message{}).Where("`key` = ? AND attempts = ?", key, attempts).Updates(change).Error
}

// SettleAbandonedMessages closes sends whose activities ended, for good,
// before settling them (their last attempt died after Temporal's own
// deadline): a claimed one never reached the provider and becomes failed,
// a handed one (or a legacy "sending" one) becomes unknown. It counts them.
func (s *Store) SettleAbandonedMessages(ctx context.Context, createdBefore time.Time) (failed, unknown int64, err error) {
	db := s.db.WithContext(ctx).Model(&Message{})
	res := db.Where("status = ? AND created_at < ?", MessageClaimed, createdBefore.UTC()).
		Updates(map[string]any{"status": MessageFailed, "reason": "abandoned: the send's activity ended before it reached the provider"})
	if res.Error != nil {
		return 0, 0, res.Error
	}
	failed = res.RowsAffected
	res = s.db.WithContext(ctx).Model(&Message{}).Where("status IN ? AND created_at < ?", []string{MessageHanded, MessageSending}, createdBefore.UTC()).
		Updates(map[string]any{"status": "unknown", "reason": "abandoned after the hand-over: the provider may have it"})
	return failed, res.RowsAffected, res.Error
}

// DiscountCodeFor returns the contact's code in campaign, creating it with
// newCode the first time. Asking again returns the same code.
func (s *Store) DiscountCodeFor(ctx context.Context, contactID, campaign string, percent int, newCode func() string) (*DiscountCode, error) {
	for range 3 {
		var dc DiscountCode
		err := s.db.WithContext(ctx).Where("contact_id = ? AND campaign = ?", contactID, campaign).Take(&dc).Error
		if err == nil {
			return &dc, nil
		}
		if !errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, err
		}
		dc = DiscountCode{Code: newCode(), ContactID: contactID, Campaign: campaign, Percent: percent}
		res := skipDuplicates(s.db.WithContext(ctx)).Create(&dc)
		if res.Error != nil {
			return nil, res.Error
		}
		if res.RowsAffected == 1 {
			return &dc, nil
		}
		// Lost a race with another attempt, or the code collided: look again.
	}
	return nil, fmt.Errorf("could not issue a unique discount code for %s in %s", contactID, campaign)
}

// SetTraits merges traits into a contact's stored traits (the preference
// page's choices, say).
func (s *Store) SetTraits(ctx context.Context, contactID string, traits map[string]any) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var c Contact
		if err := tx.Where("id = ?", contactID).Take(&c).Error; err != nil {
			return err
		}
		if c.Traits == nil {
			c.Traits = map[string]any{}
		}
		for k, v := range traits {
			c.Traits[k] = v
		}
		return tx.Model(&Contact{}).Where("id = ?", contactID).Select("traits").Updates(&Contact{Traits: c.Traits}).Error
	})
}
