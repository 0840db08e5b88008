package models

import (
	"gorm.io/gorm"

	"context"
	"time"
)

// OptOutSMS withdraws SMS consent from every contact with this phone number
// (a STOP reply). It returns the IDs of the contacts it changed.
func (s *Store) OptOutSMS(ctx context.Context, phone string, at time.Time) ([]string, error) {
	ids, _, err := s.SMSKeyword(ctx, "", phone, true, at)
	return ids, err
}

// OptInSMS gives SMS consent back to the contacts with this phone number (a
// START reply).
func (s *Store) OptInSMS(ctx context.Context, phone string, at time.Time) ([]string, error) {
	ids, _, err := s.SMSKeyword(ctx, "", phone, false, at)
	return ids, err
}

// SMSKeyword applies a STOP (optOut) or a START from phone, which Twilio
// took at at, to the number and to every contact with it. With a message
// SID it is applied once: a webhook sent again (by Twilio, or replayed by
// anyone) changes nothing. A keyword older than the one in force changes
// nothing either, so consent follows the order the person texted in, not
// the order the webhooks arrived in. It returns the contacts with the
// number and whether consent changed.
func (s *Store) SMSKeyword(ctx context.Context, messageSID, phone string, optOut bool, at time.Time) (ids []string, applied bool, err error) {
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if ids, err = contactIDsWithPhone(tx, phone); err != nil {
			return err
		}
		if messageSID != "" {
			if first, err := firstReceipt(tx, ReceiptTwilio, messageSID); err != nil || !first {
				return err
			}
		}
		reason := "STOP"
		if !optOut {
			reason = "START"
		}
		applied, err = changeSuppression(tx, SuppressionChange{Channel: ChannelSMS, Address: phone, Suppressed: &optOut, Reason: reason, At: at, Source: messageSID})
		if err != nil || !applied || len(ids) == 0 {
			return err
		}
		change := map[string]any{"sms_consent": false, "sms_opted_out_at": at.UTC()}
		if !optOut {
			change = map[string]any{"sms_consent": true, "sms_consent_at": at.UTC(), "sms_opted_out_at": nil}
		}
		return tx.Model(&Contact{}).Where("id IN ?", ids).Updates(change).Error
	})
	return ids, applied, err
}

// SetDeliveryStatus records what a provider's status callback says about a
// message, found by the provider's ID for it. It reports whether a message
// matched.
func (s *Store) SetDeliveryStatus(ctx context.Context, providerID, status, reason string) (bool, error) {
	change := map[string]any{"delivery_status": status}
	if reason != "" {
		change["reason"] = reason
	}
	res := s.db.WithContext(ctx).Model(&Message{}).Where("provider_id = ?", providerID).Updates(change)
	return res.RowsAffected > 0, res.Error
}

// CountMarketing counts the marketing messages sent (or recorded) to a
// contact on a channel since a moment, for frequency caps.
func (s *Store) CountMarketing(ctx context.Context, contactID, channel string, since time.Time) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&Message{}).
		Where("contact_id = ? AND channel = ? AND marketing = ? AND at > ? AND status IN ?",
			contactID, channel, true, since.UTC(), MayHaveGoneOut).
		Count(&n).Error
	return n, err
}

// ContactIDsWithPhone lists the contacts with this phone number, such as
// the sender of an inbound SMS.
func (s *Store) ContactIDsWithPhone(ctx context.Context, phone string) ([]string, error) {
	return contactIDsWithPhone(s.db.WithContext(ctx), phone)
}

func contactIDsWithPhone(db *gorm.DB, phone string) (ids []string, err error) {
	return ids, db.Model(&Contact{}).Where("phone = ?", phone).Order("id").Pluck("id", &ids).Error
}
