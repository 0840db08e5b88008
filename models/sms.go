package models

import (
	"context"
	"time"
)

// OptOutSMS withdraws SMS consent from every contact with this phone number
// (a STOP reply). It returns the IDs of the contacts it changed.
func (s *Store) OptOutSMS(ctx context.Context, phone string, at time.Time) ([]string, error) {
	return s.setSMSConsent(ctx, phone, map[string]any{"sms_consent": false, "sms_opted_out_at": at.UTC()})
}

// OptInSMS gives SMS consent back to the contacts with this phone number (a
// START reply).
func (s *Store) OptInSMS(ctx context.Context, phone string, at time.Time) ([]string, error) {
	return s.setSMSConsent(ctx, phone, map[string]any{"sms_consent": true, "sms_consent_at": at.UTC(), "sms_opted_out_at": nil})
}

func (s *Store) setSMSConsent(ctx context.Context, phone string, change map[string]any) ([]string, error) {
	ids, err := s.ContactIDsWithPhone(ctx, phone)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	return ids, s.db.WithContext(ctx).Model(&Contact{}).Where("id IN ?", ids).Updates(change).Error
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
	var ids []string
	err := s.db.WithContext(ctx).Model(&Contact{}).Where("phone = ?", phone).Order("id").Pluck("id", &ids).Error
	return ids, err
}
